using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>Estimator side of a <see cref="WeightVectorTransformer"/>: checks the schema and fits.</summary>
public abstract class WeightVectorEstimator<TTransformer> : IEstimator<TTransformer> where TTransformer : WeightVectorTransformer
{
    private protected WeightVectorEstimator(string outputColumnName, string inputColumnName, WeightLayout layout)
    {
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
    }

    /// <summary>Name of the added column.</summary>
    public string OutputColumnName { get; }
    /// <summary>Name of the weight column read.</summary>
    public string InputColumnName { get; }
    /// <summary>Layout of the weight vectors.</summary>
    public WeightLayout Layout { get; }
    /// <summary>What a NaN or ∞ in the input column does (default: an error naming the row and position).</summary>
    public NonFiniteWeights NonFinite { get; init; } = NonFiniteWeights.Error;


    private protected abstract TTransformer FitCore(IDataView input);

    /// <inheritdoc />
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        WeightLayoutAnnotation.CheckColumn(input.Schema, InputColumnName, Layout);
        var fitted = FitCore(input);
        return fitted.NonFinite == NonFinite ? fitted : (TTransformer)fitted.WithNonFinite(NonFinite);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) =>
        WeightVectorShapes.Vector(OutputColumnName, InputColumnName, inputSchema, $"a known-size vector of Single (Vector<Single, {Layout.ParameterCount}>)");
}
