using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WeightSpace.MLNet;

/// <summary>
/// The contrastive branch in C#: <see cref="ProjectionHead"/> ([Linear → BatchNorm → ReLU] × (n − 1) → Linear → BatchNorm,
/// batch norm in training mode: the batch's mean and biased variance, ε = 1e-5) and NT-Xent over the projections of the
/// batch's two views (<see cref="ContrastiveLosses.NtXent"/>), forward and backward over the whole batch at once (batch norm
/// couples its rows). Its parameters are a copy of the head module's (<see cref="FlatParameters"/>), trained by its own
/// AdamW. The running statistics of the batch norms are not kept: the head is only ever used in training.
/// </summary>
internal sealed unsafe class CpuContrast
{
    private const float BatchNormEpsilon = 1e-5f, NormalizeEpsilon = 1e-12f;
    private readonly FlatParameters _parameters;
    private readonly GradientLayout _gradients = new();
    private readonly CpuLinear[] _linears;
    private readonly (int Gamma, int Beta, int GradGamma, int GradBeta)[] _norms;
    private readonly int[] _widths;
    private readonly int _rows, _latent, _width, _padded;
    private readonly float _inverseTemperature;
    private readonly Pinned _arena, _scores, _transposed;
    private readonly Pinned[] _inputs, _normed, _outputs, _mean, _inverseStd;   // per layer: its input, x̂ of its batch norm, its output
    private readonly Pinned _dA, _dB, _z, _norm, _dz;
    private readonly FlatAdamW _adam;
    private readonly float[] _gradient;

    public CpuContrast(ProjectionHead head, int latent, IReadOnlyList<int> widths, double temperature, int rows, double weightDecay)
    {
        _parameters = new FlatParameters(head);
        _latent = latent;
        _widths = widths.ToArray();
        _rows = rows;
        _inverseTemperature = (float)(1 / temperature);
        int input = latent;
        _linears = new CpuLinear[_widths.Length];
        _norms = new (int, int, int, int)[_widths.Length];
        for (int i = 0; i < _widths.Length; i++)
        {
            _linears[i] = new CpuLinear(_parameters, $"layers.{3 * i}", _gradients, input, _widths[i]);
            int gamma = _parameters[$"layers.{3 * i + 1}.weight"].Offset, beta = _parameters[$"layers.{3 * i + 1}.bias"].Offset;
            _norms[i] = (gamma, beta, _gradients.Add(gamma, 1, _widths[i], 1, Pad.Width(_widths[i])), _gradients.Add(beta, 1, _widths[i], 1, Pad.Width(_widths[i])));
            input = _widths[i];
        }
        _width = _widths[^1];
        _padded = Pad.Width(_width);
        long r = Pad.Rows(rows) + PackedLinear.Tile;
        _inputs = _widths.Select((_, i) => new Pinned(r * Pad.Width(i == 0 ? latent : _widths[i - 1]))).ToArray();
        _normed = _widths.Select(w => new Pinned(r * Pad.Width(w))).ToArray();
        _outputs = _widths.Select(w => new Pinned(r * Pad.Width(w))).ToArray();
        _mean = _widths.Select(w => new Pinned(w)).ToArray();
        _inverseStd = _widths.Select(w => new Pinned(w)).ToArray();
        int maxWidth = Pad.Width(_widths.Append(latent).Max());
        _dA = new Pinned(r * maxWidth);
        _dB = new Pinned(r * maxWidth);
        _z = new Pinned(r * _padded);
        _norm = new Pinned(r);
        _dz = new Pinned(r * _padded);
        _scores = new Pinned(r * Pad.Width(rows));
        _transposed = new Pinned((long)Pad.Rows(_width) * Pad.Width(rows));
        _arena = new Pinned(_gradients.Size);
        _adam = new FlatAdamW(_parameters.Values.Length, _parameters.Names.Select(n => _parameters[n]), weightDecay);
        _gradient = new float[_parameters.Values.Length];
    }

    /// <summary>
    /// NT-Xent of the latents of 2B rows (view A's rows, then view B's; row stride <paramref name="latentStride"/>), and its
    /// gradient × <paramref name="weight"/> (the term's weight in the loss) into <paramref name="dLatent"/> (same layout); the
    /// head's gradient (× weight too) is kept for <see cref="Step"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Backward(float* latent, int latentStride, int rows, float weight, float* dLatent)
    {
        if (rows > _rows || rows % 2 != 0) throw new ArgumentException($"The contrast takes an even number of rows up to {_rows}, not {rows}.");
        var values = _parameters.Values;
        _arena.Clear();
        // forward through the head
        int input = _latent;
        for (int r = 0; r < rows; r++) Ops.Copy(latent + r * latentStride, _inputs[0].P + r * Pad.Width(input), input);
        for (int i = 0; i < _widths.Length; i++)
        {
            int w = _widths[i], ws = Pad.Width(w), xs = Pad.Width(i == 0 ? _latent : _widths[i - 1]);
            _linears[i].Forward(_inputs[i].P, xs, rows, _outputs[i].P, ws, LinearOutput.Store);
            float* target = i + 1 < _widths.Length ? _inputs[i + 1].P : _z.P;
            BatchNorm(_outputs[i].P, _normed[i].P, target, rows, w, ws, values.P + _norms[i].Gamma, values.P + _norms[i].Beta, _mean[i].P, _inverseStd[i].P, relu: i + 1 < _widths.Length);
        }
        // NT-Xent on the normalised projections
        int n = rows, b = rows / 2, ss = Pad.Width(rows), zs = _padded;
        float* z = _z.P, scores = _scores.P, norm = _norm.P;
        for (int r = 0; r < n; r++)
        {
            float length = MathF.Sqrt(Dot(z + r * zs, z + r * zs, _width));
            norm[r] = length;
            float scale = 1f / MathF.Max(length, NormalizeEpsilon);
            for (int c = 0; c < _width; c++) z[r * zs + c] *= scale;   // z now holds the unit rows
        }
        for (int r = 0; r < n; r++)
            for (int c = 0; c < _width; c++) _transposed.P[c * ss + r] = z[r * zs + c];
        PackedLinear.Multiply(z, zs, n, _transposed.P, ss, _width, n, scores, ss);
        double loss = 0;
        float inverseN = 1f / n;
        var temperature = Vector256.Create(_inverseTemperature);
        int vectors = n / 8 * 8;
        for (int r = 0; r < n; r++)
        {
            float* row = scores + r * ss;
            int positive = (r + b) % n;
            row[r] = float.NegativeInfinity;                     // a sample is not its own negative
            var top = Vector256.Create(float.NegativeInfinity);
            int c = 0;
            for (; c < vectors; c += 8) { var v = Vector256.Load(row + c) * temperature; Vector256.Store(v, row + c); top = Vector256.Max(top, v); }
            float largest = float.NegativeInfinity;
            for (int k = 0; k < 8; k++) largest = MathF.Max(largest, top[k]);
            for (; c < n; c++) { row[c] *= _inverseTemperature; largest = MathF.Max(largest, row[c]); }
            var shift = Vector256.Create(largest);
            var sum = Vector256<float>.Zero;
            for (c = 0; c < vectors; c += 8) { var e = Vector256.Exp(Vector256.Load(row + c) - shift); Vector256.Store(e, row + c); sum += e; }
            float total = Vector256.Sum(sum);
            for (; c < n; c++) { row[c] = MathF.Exp(row[c] - largest); total += row[c]; }
            loss += Math.Log(total) - Math.Log(row[positive]);   // −log softmax at the positive
            var scale = Vector256.Create(inverseN / total);
            for (c = 0; c < vectors; c += 8) Vector256.Store(Vector256.Load(row + c) * scale, row + c);   // dlogits = softmax / N …
            for (; c < n; c++) row[c] *= inverseN / total;
            row[positive] -= inverseN;                            // … − onehot / N
        }
        loss /= n;
        // dz = (dL + dLᵀ)·z / τ, through the normalisation: dp = (dz − z (z·dz)) / |p|
        float* dz = _dz.P;
        PackedLinear.Multiply(scores, ss, n, z, zs, n, _width, dz, zs);
        PackedLinear.Multiply(scores, 1, n, z, zs, n, _width, dz, zs, LinearOutput.Accumulate, xStep: ss);
        for (int r = 0; r < n; r++)
        {
            float* g = dz + r * zs, u = z + r * zs;
            float scale = _inverseTemperature * weight, along = Dot(u, g, _width);
            float length = norm[r];
            for (int c = 0; c < _width; c++)
                g[c] = length > NormalizeEpsilon ? scale * (g[c] - u[c] * along) / length : scale * g[c] / NormalizeEpsilon;
        }
        // back through the head
        float* dy = dz;
        int dyStride = zs;
        for (int i = _widths.Length - 1; i >= 0; i--)
        {
            int w = _widths[i], ws = Pad.Width(w), xs = Pad.Width(i == 0 ? _latent : _widths[i - 1]);
            float* dPre = _dA.P;
            BatchNormBackward(dy, dyStride, _normed[i].P, i + 1 < _widths.Length ? _inputs[i + 1].P : null, dPre, rows, w, ws,
                values.P + _norms[i].Gamma, _inverseStd[i].P, _arena.P + _norms[i].GradGamma, _arena.P + _norms[i].GradBeta);
            _linears[i].Backward(_inputs[i].P, xs, dPre, ws, rows, _dB.P, xs, LinearOutput.Store, _arena.P);
            dy = _dB.P;   // the next layer down writes its own into _dA
            dyStride = xs;
        }
        for (int r = 0; r < rows; r++) Ops.Copy(dy + r * dyStride, dLatent + r * latentStride, _latent);
        _gradients.Reduce(new[] { _arena }, _gradient, new[] { 0 });
        return loss;
    }

    /// <summary>One AdamW step of the head with the last gradient.</summary>
    public void Step(double learningRate)
    {
        _adam.Step(_parameters.Values.Span, _gradient, learningRate);
        foreach (var linear in _linears) linear.Refresh(_parameters.Values);
    }

    /// <summary>The head's parameters (names in the module's order) and the gradient of the last <see cref="Backward"/>.</summary>
    public FlatParameters Parameters => _parameters;
    public ReadOnlySpan<float> Gradient => _gradient;

    /// <summary>y = BN(x) over the batch (then relu); x̂ into <paramref name="normed"/>, per column mean and 1/σ kept. Rows padded to whole vectors.</summary>
    private static void BatchNorm(float* x, float* normed, float* y, int rows, int width, int stride, float* gamma, float* beta, float* mean, float* inverseStd, bool relu)
    {
        int vectors = (width + 7) / 8;   // the padding columns compute on zeros and are never read
        Span<double> m = stackalloc double[vectors * 8], v = stackalloc double[vectors * 8];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < width; c++) m[c] += x[r * stride + c];
        for (int c = 0; c < width; c++) m[c] /= rows;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < width; c++) { double e = x[r * stride + c] - m[c]; v[c] += e * e; }
        for (int c = 0; c < width; c++)
        {
            mean[c] = (float)m[c];
            inverseStd[c] = (float)(1 / Math.Sqrt(v[c] / rows + BatchNormEpsilon));
        }
        var zero = Vector256<float>.Zero;
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < vectors * 8; k += 8)
            {
                var xhat = (Vector256.Load(x + r * stride + k) - Vector256.Load(mean + k)) * Vector256.Load(inverseStd + k);
                Vector256.Store(xhat, normed + r * stride + k);
                var value = Vector256.FusedMultiplyAdd(xhat, Vector256.Load(gamma + k), Vector256.Load(beta + k));
                Vector256.Store(relu ? Vector256.Max(value, zero) : value, y + r * stride + k);
            }
    }

    /// <summary>The gradient before a batch norm (and the relu after it, given its outputs <paramref name="after"/>; null: none) from the gradient after.</summary>
    private static void BatchNormBackward(float* dy, int dyStride, float* normed, float* after, float* dx, int rows, int width, int stride, float* gamma, float* inverseStd,
        float* gradGamma, float* gradBeta)
    {
        int vectors = (width + 7) / 8 * 8;
        Span<float> sum = stackalloc float[vectors], sumX = stackalloc float[vectors];
        sum.Clear();
        sumX.Clear();
        // the relu's gradient first, into dx (which then holds g = dy·relu')
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < width; c++)
            {
                float g = after is not null && after[r * stride + c] <= 0 ? 0 : dy[r * dyStride + c];
                dx[r * stride + c] = g;
                sum[c] += g;
                sumX[c] += g * normed[r * stride + c];
            }
        for (int c = 0; c < width; c++) { gradGamma[c] += sumX[c]; gradBeta[c] += sum[c]; }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < width; c++)
                dx[r * stride + c] = gamma[c] * inverseStd[c] / rows * (rows * dx[r * stride + c] - sum[c] - normed[r * stride + c] * sumX[c]);
    }

    private static float Dot(float* a, float* b, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += a[i] * b[i];
        return sum;
    }
}
