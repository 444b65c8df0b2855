using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>
/// <c>mlContext.Data.FilterNonFiniteWeights(view)</c>: a lazy view without the rows whose weight vector holds NaN or ∞ (the
/// "skip" choice of the library's non-finite policy; the transforms themselves throw by default or impute zeros).
/// </summary>
public static class NonFiniteWeightsFilter
{
    /// <summary>Drops every row whose <paramref name="column"/> (a float vector) holds a NaN or ∞; other rows pass unchanged.</summary>
    /// <example><code>var clean = ml.Data.FilterNonFiniteWeights(ml.Data.LoadZoo("zoo"));</code></example>
    public static IDataView FilterNonFiniteWeights(this DataOperationsCatalog catalog, IDataView input, string column = ZooColumns.Weights)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(input);
        var col = input.Schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' not found; the data has: {string.Join(", ", input.Schema.Select(c => c.Name))}.");
        if (col.Type is not VectorDataViewType { ItemType: NumberDataViewType t } || t != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' must be a vector of Single, but is {col.Type}.");
        return new RowFilterView<VBuffer<float>>(input, col, AllFinite, parallel: true);
    }

    private static bool AllFinite(ref VBuffer<float> weights)
    {
        foreach (var v in weights.GetValues()) if (!float.IsFinite(v)) return false;
        return true;
    }
}
