using Microsoft.ML;

namespace WeightSpace.MLNet;

/// <summary>
/// Output shapes of the library's estimators. <c>SchemaShape.Column</c> has no public constructor; every column these
/// transforms add is a known-size Single vector, the same kind as their input, so a stock column copy describes it.
/// </summary>
internal static class WeightVectorShapes
{
    private static readonly MLContext Shapes = new();

    /// <summary>Checks that <paramref name="input"/> is a known-size Single vector (naming the column and what was found), then describes the added column.</summary>
    public static SchemaShape Vector(string output, string input, SchemaShape inputSchema, string expected = "a known-size vector of Single")
    {
        var col = inputSchema.FirstOrDefault(c => c.Name == input);
        if (col.Name != input)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Input column '{input}' not found; the data has: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
        if (col.Kind != SchemaShape.Column.VectorKind.Vector || col.ItemType != Microsoft.ML.Data.NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Column '{input}' must be {expected}, but is {col.Kind} of {col.ItemType}.");
        return Shapes.Transforms.CopyColumns(output, input).GetOutputSchema(inputSchema);
    }
}
