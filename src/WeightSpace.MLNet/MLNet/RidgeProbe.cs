using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace WeightSpace.MLNet;

/// <summary>Options of <see cref="RidgeProbeTrainer"/>.</summary>
public sealed record RidgeProbeOptions
{
    /// <summary>The numeric label column (Single).</summary>
    public string LabelColumnName { get; init; } = "Label";
    /// <summary>The feature column (known-size vector of Single).</summary>
    public string FeatureColumnName { get; init; } = "Features";
    /// <summary>Standardised features with an unpenalised bias (default), or R21's raw features with a penalised bias.</summary>
    public RidgeConvention Convention { get; init; } = RidgeConvention.Standardized;
    /// <summary>
    /// The λ grid. Default null: the grid follows the data (<see cref="RidgeRegression.DataLambdas"/>: the paper's 17 values
    /// from 1e3 to 1e-5, extended upward to ten times the largest eigenvalue of the training Gram matrix);
    /// <see cref="RidgeRegression.PaperLambdas"/> gives the paper's grid alone.
    /// </summary>
    public IReadOnlyList<double>? Lambdas { get; init; }
    /// <summary>Rows that choose λ; when null, <see cref="ValidationFraction"/> of the models (by <see cref="GroupColumnName"/>) are held out of the training view.</summary>
    public IDataView? ValidationSet { get; init; }
    /// <summary>Fraction of models held out to choose λ when no <see cref="ValidationSet"/> is given.</summary>
    public double ValidationFraction { get; init; } = 0.15;
    /// <summary>The column that groups rows by model for the inner split (default ModelId).</summary>
    public string GroupColumnName { get; init; } = ZooColumns.ModelId;
    /// <summary>Seed of the inner split.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>
/// The paper's linear probe as an ML.NET trainer: closed-form ridge regression in float64, λ chosen from a grid by validation
/// R² (on a given validation view, or on held-out models), then refitted on all training rows. The result is a stock
/// <see cref="RegressionPredictionTransformer{T}"/> of <see cref="LinearRegressionModelParameters"/>: it composes with
/// <c>Append</c>, is evaluated by <c>ml.Regression.Evaluate</c> and saves with <c>ml.Model.Save</c> like any ML.NET linear model.
/// </summary>
/// <example><code>
/// var probe = ml.Transforms.WeightStatistics("Features", "Weights", WeightLayout.TetrisMlp100)
///     .Append(ml.Regression.Trainers.WeightSpaceRidge("TestAccuracy", "Features"));
/// var model = probe.Fit(train);
/// </code></example>
public sealed class RidgeProbeTrainer : IEstimator<RegressionPredictionTransformer<LinearRegressionModelParameters>>
{
    private readonly IHostEnvironment _env;

    internal RidgeProbeTrainer(IHostEnvironment env, RidgeProbeOptions options)
    {
        _env = env;
        Options = options;
        if (options.Lambdas is { Count: 0 }) throw new ArgumentException("The λ grid needs at least one value (or null: a grid that follows the data).", nameof(options));
        if (options.ValidationFraction is <= 0 or >= 1 && options.ValidationSet is null && options.Lambdas is not { Count: 1 })
            throw new ArgumentOutOfRangeException(nameof(options), options.ValidationFraction, "ValidationFraction must lie in (0, 1) to choose λ.");
    }

    /// <summary>The options.</summary>
    public RidgeProbeOptions Options { get; }

    /// <summary>The λ the last <see cref="Fit"/> chose and its validation R².</summary>
    public (double Lambda, double ValidationR2)? LastChoice { get; private set; }

    /// <inheritdoc />
    public RegressionPredictionTransformer<LinearRegressionModelParameters> Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (x, y, groups, k) = Read(input, "training");
        double lambda;
        if (Options.Lambdas is { Count: 1 }) { lambda = Options.Lambdas[0]; LastChoice = (lambda, double.NaN); }
        else
        {
            float[] xt, yt, xv, yv;
            if (Options.ValidationSet is { } validation)
            {
                (xv, yv, _, int kv) = Read(validation, "validation");
                if (kv != k) throw new ArgumentException($"The validation features have {kv} values per row, the training features {k}.");
                (xt, yt) = (x, y);
            }
            else
            {
                if (groups is null)
                    throw new ArgumentException($"Choosing λ needs held-out models: give a ValidationSet, a '{Options.GroupColumnName}' column (Int32) to hold models out, or a single λ.");
                var split = ModelSplit.Create(groups, Options.Seed, 1 - Options.ValidationFraction, Options.ValidationFraction);
                var train = Enumerable.Range(0, y.Length).Where(r => split.PartOf(groups[r]) == SplitPart.Train).ToArray();
                var held = Enumerable.Range(0, y.Length).Where(r => split.PartOf(groups[r]) == SplitPart.Validation).ToArray();
                if (held.Length == 0) throw new ArgumentException($"Too few models in '{Options.GroupColumnName}' to hold some out for choosing λ.");
                (xt, yt) = Rows(x, y, k, train);
                (xv, yv) = Rows(x, y, k, held);
            }
            var chosen = RidgeRegression.Fit(xt, yt, xv, yv, k, Options.Convention, Options.Lambdas);
            lambda = chosen.Lambda;
            LastChoice = (lambda, chosen.ValidationR2);
            // Fitted on all the training rows already (the validation rows are separate): refitting would repeat the same solve.
            if (ReferenceEquals(xt, x)) return StockLinearModel.Create(_env, chosen, input.Schema, Options.FeatureColumnName);
        }
        var model = RidgeRegression.Fit(x, y, k, lambda, Options.Convention);
        return StockLinearModel.Create(_env, model, input.Schema, Options.FeatureColumnName);
    }

    private static (float[] X, float[] Y) Rows(float[] x, float[] y, int k, int[] rows)
    {
        var xs = new float[rows.Length * k];
        for (int i = 0; i < rows.Length; i++) x.AsSpan(rows[i] * k, k).CopyTo(xs.AsSpan(i * k, k));
        return (xs, rows.Select(r => y[r]).ToArray());
    }

    /// <summary>Features, labels and (when present) model ids; errors name the column and what is wrong with it.</summary>
    private (float[] X, float[] Y, int[]? Groups, int K) Read(IDataView data, string what)
    {
        var f = data.Schema.GetColumnOrNull(Options.FeatureColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(data), $"Feature column '{Options.FeatureColumnName}' not found in the {what} data; it has: {string.Join(", ", data.Schema.Select(c => c.Name))}.");
        if (f.Type is not VectorDataViewType { Size: > 0 } fv || fv.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(data), $"Feature column '{Options.FeatureColumnName}' must be a known-size vector of Single, but is {f.Type}.");
        var l = data.Schema.GetColumnOrNull(Options.LabelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(data), $"Label column '{Options.LabelColumnName}' not found in the {what} data; it has: {string.Join(", ", data.Schema.Select(c => c.Name))}.");
        if (l.Type != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(data), $"Label column '{Options.LabelColumnName}' is {l.Type}; the ridge probe predicts a numeric (Single) target. " +
                "For a categorical target (e.g. Activation) use a classifier: ProbeProtocol treats Text labels that way.");
        var g = data.Schema.GetColumnOrNull(Options.GroupColumnName);
        if (g is { } gc && gc.Type != NumberDataViewType.Int32) g = null;
        int k = fv.Size;
        var xs = new List<float>();
        var ys = new List<float>();
        var gs = g is null ? null : new List<int>();
        var needed = new List<DataViewSchema.Column> { f, l };
        if (g is { } g1) needed.Add(g1);
        using (var cursor = data.GetRowCursor(needed))
        {
            var fg = cursor.GetGetter<VBuffer<float>>(f);
            var lg = cursor.GetGetter<float>(l);
            var gg = g is { } g2 ? cursor.GetGetter<int>(g2) : null;
            VBuffer<float> buffer = default;
            float label = 0;
            int group = 0;
            var dense = new float[k];
            while (cursor.MoveNext())
            {
                lg(ref label);
                if (!float.IsFinite(label)) throw new ArgumentException($"Label column '{Options.LabelColumnName}' holds {label} at row {cursor.Position} of the {what} data (missing label?).");
                fg(ref buffer);
                buffer.CopyTo(dense);
                xs.AddRange(dense);
                ys.Add(label);
                if (gg is not null) { gg(ref group); gs!.Add(group); }
            }
        }
        if (ys.Count == 0) throw new ArgumentException($"The {what} data is empty: the ridge probe needs rows.");
        if (ys.All(v => v == ys[0])) throw new ArgumentException($"Label column '{Options.LabelColumnName}' is constant ({ys[0]}) in the {what} data: there is nothing to predict.");
        return (xs.ToArray(), ys.ToArray(), gs?.ToArray(), k);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) =>
        ShapeContext.Regression.Trainers.Sdca(Options.LabelColumnName, Options.FeatureColumnName).GetOutputSchema(inputSchema);

    private static readonly MLContext ShapeContext = new();
}

/// <summary>
/// Builds ML.NET's own linear regression transformer from fitted weights. Its constructors are internal in ML.NET 5.0.1, so
/// they are called by reflection; the object is then an ordinary stock model (saved and loaded by ML.NET without this
/// library). A test guards the reflection against the pinned ML.NET version.
/// </summary>
internal static class StockLinearModel
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    public static RegressionPredictionTransformer<LinearRegressionModelParameters> Create(IHostEnvironment env, RidgeModel model, DataViewSchema schema, string featureColumn)
    {
        var weights = new VBuffer<float>(model.Weights.Length, model.Weights.Select(w => (float)w).ToArray());
        var parametersCtor = typeof(LinearRegressionModelParameters).GetConstructors(Any)
            .FirstOrDefault(c => c.GetParameters() is { Length: 3 } p && p[0].ParameterType == typeof(IHostEnvironment) && p[1].ParameterType.GetElementType() == typeof(VBuffer<float>))
            ?? throw new NotSupportedException("This ML.NET version does not expose LinearRegressionModelParameters(env, weights, bias); pin Microsoft.ML 5.0.1.");
        var parameters = (LinearRegressionModelParameters)parametersCtor.Invoke(new object[] { env, weights, (float)model.Bias });
        var transformerCtor = typeof(RegressionPredictionTransformer<LinearRegressionModelParameters>).GetConstructors(Any)
            .FirstOrDefault(c => c.GetParameters() is { Length: 4 } p && p[0].ParameterType == typeof(IHostEnvironment) && p[2].ParameterType == typeof(DataViewSchema))
            ?? throw new NotSupportedException("This ML.NET version does not expose RegressionPredictionTransformer(env, model, schema, features); pin Microsoft.ML 5.0.1.");
        return (RegressionPredictionTransformer<LinearRegressionModelParameters>)transformerCtor.Invoke(new object[] { env, parameters, schema, featureColumn });
    }
}
