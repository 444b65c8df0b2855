using Microsoft.ML;

namespace WeightSpace.MLNet.MLNet;

/// <summary>
/// Output shapes of the library's estimators. <c>SchemaShape.Column</c> has no public constructor; every column these
/// transforms add is a known-size Single vector, the same kind as their input, so a stock column copy describes it.
/// </summary>
internal static class WeightVectorShapes
{
    private static readonly MLContext Shapes = new();

    public static SchemaShape Vector(string output, string input, SchemaShape inputSchema) =>
        Shapes.Transforms.CopyColumns(output, input).GetOutputSchema(inputSchema);
}
