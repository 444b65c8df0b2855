using TorchSharp;
using static TorchSharp.torch;
using static WeightSpace.MLNet.TorchScalars;

namespace WeightSpace.MLNet;

/// <summary>How the ridge probe treats features and bias.</summary>
public enum RidgeConvention
{
    /// <summary>Features standardised on the training rows, bias not penalised (default).</summary>
    Standardized,
    /// <summary>R21: raw features, a ones column appended and penalised with the rest (λ·I added to XᵀX).</summary>
    R21,
}

/// <summary>A fitted linear model y ≈ x·w + b (weights in the raw feature space).</summary>
/// <param name="Weights">One weight per feature.</param>
/// <param name="Bias">The intercept.</param>
/// <param name="Lambda">The ridge penalty it was fitted with.</param>
/// <param name="ValidationR2">R² on the validation rows that chose λ (NaN when λ was given).</param>
public sealed record RidgeModel(double[] Weights, double Bias, double Lambda, double ValidationR2)
{
    /// <summary>Predictions for <paramref name="rows"/> rows of features (row-major).</summary>
    public double[] Predict(ReadOnlySpan<float> features, int rows)
    {
        int k = Weights.Length;
        if (features.Length != (long)rows * k)
            throw new ArgumentException($"The ridge model has {k} features, but {rows} rows of {(rows == 0 ? 0 : features.Length / rows)} were given.");
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = Bias;
            var x = features.Slice(r * k, k);
            for (int j = 0; j < k; j++) s += x[j] * Weights[j];
            y[r] = s;
        }
        return y;
    }
}

/// <summary>
/// Closed-form ridge regression in float64 (METHOD §6): one eigen-decomposition of XᵀX serves the whole λ grid, and λ is
/// the grid value with the best R² on validation rows.
/// </summary>
/// <example><code>
/// var model = RidgeRegression.Fit(xTrain, yTrain, xVal, yVal, features: 50);
/// double[] predicted = model.Predict(xTest, yTest.Length);
/// </code></example>
public static class RidgeRegression
{
    /// <summary>
    /// With <see cref="RidgeConvention.Standardized"/>, a feature whose standard deviation on the training rows is at most this
    /// fraction of its mean's magnitude counts as constant (weight 0): float32 stores about 7 digits, so such a spread is rounding.
    /// </summary>
    public const double ConstantRelativeStd = 1e-6;

    /// <summary>The paper's λ grid.</summary>
    public static IReadOnlyList<double> PaperLambdas { get; } =
        new[] { 1e3, 3e2, 1e2, 30, 10, 3, 1, 0.3, 0.1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5 };

    /// <summary>
    /// The grid that follows the data (the default): the paper's 17 values, then 3e3, 1e4, 3e4, … up to ten times the largest
    /// eigenvalue of the (standardised) training Gram matrix XᵀX — the scale at which λ shrinks every direction of the fit.
    /// The paper's grid alone stops at 1e3, which on a few hundred rows of thousands of raw weights is not enough shrinkage
    /// (digits MLP zoo, W → epoch: test R² −0.137 with the paper's grid, 0.017 with a grid to 1e5).
    /// </summary>
    public static IReadOnlyList<double> DataLambdas(double largestEigenvalue)
    {
        double top = 10 * largestEigenvalue;
        var larger = new List<double>();
        for (int decade = 3; decade < 300; decade++)
            foreach (double v in new[] { 3 * Math.Pow(10, decade), Math.Pow(10, decade + 1) })
            {
                if (!(v <= top)) return larger.AsEnumerable().Reverse().Concat(PaperLambdas).ToArray();
                larger.Add(v);
            }
        return larger.AsEnumerable().Reverse().Concat(PaperLambdas).ToArray();
    }

    /// <summary>
    /// Fits on the training rows for every λ of the grid and keeps the one with the best validation R². Without a grid, the
    /// grid follows the data (<see cref="DataLambdas"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Sizes do not match, a split is empty, or a value is not finite.</exception>
    public static RidgeModel Fit(ReadOnlySpan<float> trainFeatures, ReadOnlySpan<float> trainLabels, ReadOnlySpan<float> validationFeatures,
        ReadOnlySpan<float> validationLabels, int features, RidgeConvention convention = RidgeConvention.Standardized, IReadOnlyList<double>? lambdas = null)
    {
        if (lambdas is not null && (lambdas.Count == 0 || lambdas.Any(l => !(l >= 0) || double.IsInfinity(l)))) throw new ArgumentException("The λ grid needs finite values ≥ 0.", nameof(lambdas));
        Check(trainFeatures, trainLabels, features, "training");
        Check(validationFeatures, validationLabels, features, "validation");
        using var scope = NewDisposeScope();
        var solver = new Solver(trainFeatures, trainLabels, features, convention);
        var xVal = Matrix(validationFeatures, validationLabels.Length, features);
        var yVal = Vector(validationLabels);
        RidgeModel? best = null;
        foreach (var lambda in lambdas ?? DataLambdas(solver.LargestEigenvalue))
        {
            var (w, b) = solver.Solve(lambda);
            double r2 = RSquared(yVal, xVal.matmul(w).add(b, One));
            if (best is null || r2 > best.ValidationR2) best = new RidgeModel(w.data<double>().ToArray(), b.item<double>(), lambda, r2);
        }
        return best!;
    }

    /// <summary>Fits with one given λ.</summary>
    public static RidgeModel Fit(ReadOnlySpan<float> trainFeatures, ReadOnlySpan<float> trainLabels, int features, double lambda,
        RidgeConvention convention = RidgeConvention.Standardized)
    {
        Check(trainFeatures, trainLabels, features, "training");
        using var scope = NewDisposeScope();
        var (w, b) = new Solver(trainFeatures, trainLabels, features, convention).Solve(lambda);
        return new RidgeModel(w.data<double>().ToArray(), b.item<double>(), lambda, double.NaN);
    }

    private static void Check(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int features, string split)
    {
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "A ridge probe needs at least one feature.");
        if (y.Length == 0) throw new ArgumentException($"The {split} split is empty: a ridge probe needs rows to fit and to validate.");
        if (x.Length != (long)y.Length * features)
            throw new ArgumentException($"The {split} features hold {x.Length} values, not {y.Length} rows × {features} features.");
        foreach (var v in y) if (!float.IsFinite(v)) throw new ArgumentException($"The {split} labels hold a non-finite value ({v}).");
        foreach (var v in x) if (!float.IsFinite(v)) throw new ArgumentException($"The {split} features hold a non-finite value ({v}).");
    }

    private static Tensor Matrix(ReadOnlySpan<float> x, int rows, int features) =>
        tensor(x.ToArray(), new long[] { rows, features }).to_type(ScalarType.Float64);

    private static Tensor Vector(ReadOnlySpan<float> y) => tensor(y.ToArray()).to_type(ScalarType.Float64);

    private static double RSquared(Tensor y, Tensor predicted)
    {
        // d.mul(d), not square(): TorchSharp's square() is pow(2) with a temporary Scalar (TorchScalars).
        var residual = y.sub(predicted);
        var centred = y.sub(y.mean());
        double sse = residual.mul(residual).sum().item<double>();
        double sst = centred.mul(centred).sum().item<double>();
        return sst > 0 ? 1 - sse / sst : double.NaN;
    }

    /// <summary>XᵀX = QΛQᵀ once; then w(λ) = Q (Λ + λ)⁻¹ Qᵀ Xᵀy for any λ.</summary>
    private sealed class Solver
    {
        private readonly Tensor _q, _eigenvalues, _qtb, _mean, _scale;
        private readonly double _yMean;
        private readonly bool _r21;

        public Solver(ReadOnlySpan<float> xs, ReadOnlySpan<float> ys, int features, RidgeConvention convention)
        {
            _r21 = convention == RidgeConvention.R21;
            var x = Matrix(xs, ys.Length, features);
            var y = Vector(ys);
            if (_r21)
            {
                x = cat(new[] { x, ones(ys.Length, 1, ScalarType.Float64) }, 1);
                _yMean = 0;
                _mean = zeros(features, ScalarType.Float64);
                _scale = ones(features, ScalarType.Float64);
            }
            else
            {
                _mean = x.mean(new long[] { 0 }, false, null);
                var std = x.std(0, false, false, null);
                // Constant features keep weight 0, and so do those that vary only at float32's rounding (std ≤ 1e-6·|mean|):
                // standardising would blow that noise up to unit variance for the probe to fit.
                using var relativeNoise = ConstantRelativeStd.ToScalar();
                var varies = std.gt(_mean.abs().mul(relativeNoise));
                _scale = where(varies, std, ones_like(std));
                x.sub_(_mean).div_(_scale).mul_(varies.to_type(ScalarType.Float64)); // in place: x is this solver's own float64 copy
                _yMean = y.mean().item<double>();
                using var yMean = _yMean.ToScalar();
                y = y.sub(yMean);
            }
            var gram = x.mT.matmul(x);
            (_eigenvalues, _q) = linalg.eigh(gram, 'L');
            _qtb = _q.mT.matmul(x.mT.matmul(y));
        }

        /// <summary>The largest eigenvalue of the Gram matrix the solver decomposed.</summary>
        public double LargestEigenvalue => _eigenvalues.max().item<double>();

        public (Tensor W, Tensor B) Solve(double lambda)
        {
            using var penalty = lambda.ToScalar();
            var coefficients = _q.matmul(_qtb.div(_eigenvalues.add(penalty, One)));
            if (_r21)
            {
                long k = coefficients.shape[0] - 1;
                return (coefficients.narrow(0, 0, k), coefficients[k]);
            }
            var w = coefficients.div(_scale);
            return (w, tensor(_yMean).sub(w.mul(_mean).sum()));
        }
    }
}
