using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>
/// The layout of a weight column travels with the column as an ML.NET annotation (<c>WeightLayout</c>: the layout's JSON),
/// so transforms such as <c>WeightEmbedding</c> need only the column name. <c>LoadZoo</c> adds it; stock transforms and
/// splits pass column annotations through.
/// </summary>
public static class WeightLayoutAnnotation
{
    /// <summary>The annotation's name.</summary>
    public const string Name = "WeightLayout";

    /// <summary>Annotations that carry <paramref name="layout"/>.</summary>
    public static DataViewSchema.Annotations Create(WeightLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var b = new DataViewSchema.Annotations.Builder();
        b.AddPrimitiveValue(Name, TextDataViewType.Instance, layout.ToJson().AsMemory());
        return b.ToAnnotations();
    }

    /// <summary>The layout a column carries, or null when it has none.</summary>
    /// <exception cref="FormatException">The annotation is present but not a valid layout.</exception>
    public static WeightLayout? Get(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull(Name) is not { } annotation || annotation.Type is not TextDataViewType) return null;
        ReadOnlyMemory<char> json = default;
        column.Annotations.GetValue(Name, ref json);
        try { return WeightLayout.FromJson(json.ToString()); }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException)
        {
            throw new FormatException($"Column '{column.Name}' carries a '{Name}' annotation that is not a valid layout: {e.Message}", e);
        }
    }

    /// <summary>The layout to use for <paramref name="columnName"/>: <paramref name="explicitLayout"/> when given (it must agree with an annotation), else the annotation.</summary>
    /// <exception cref="ArgumentException">No layout known, or the given one contradicts the column's.</exception>
    public static WeightLayout Resolve(DataViewSchema schema, string columnName, WeightLayout? explicitLayout)
    {
        var column = schema.GetColumnOrNull(columnName)
            ?? throw new ArgumentOutOfRangeException(nameof(columnName), $"Input column '{columnName}' not found; the data has: {string.Join(", ", schema.Select(c => c.Name))}.");
        var annotated = Get(column);
        if (explicitLayout is not null)
        {
            if (annotated is not null && !annotated.Equals(explicitLayout))
                throw new ArgumentException($"Column '{columnName}' holds layout {annotated}, but layout {explicitLayout} was given.");
            return explicitLayout;
        }
        return annotated ?? throw new ArgumentException(
            $"Column '{columnName}' carries no '{Name}' annotation (mlContext.Data.LoadZoo adds one); pass the WeightLayout explicitly.");
    }

    /// <summary>Throws an error naming the column, the expected type and size, and what was found.</summary>
    internal static DataViewSchema.Column CheckColumn(DataViewSchema schema, string column, WeightLayout layout)
    {
        var col = schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(column), $"Input column '{column}' not found; the data has: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (col.Type is not VectorDataViewType v || v.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' must be Vector<Single, {layout.ParameterCount}>, but is {col.Type}.");
        if (v.Size != layout.ParameterCount)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' has vectors of size {(v.Size == 0 ? "variable" : v.Size.ToString())}, but layout '{layout.Name}' needs {layout.ParameterCount}.");
        return col;
    }
}
