using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace WeightSpace.MLNet;

/// <summary>AdamW over ranges of a flat parameter array: the update of <see cref="AdamW"/> (decoupled decay, β = (0.9, 0.999), ε = 1e-8) in float.</summary>
internal sealed class FlatAdamW
{
    private const double Beta1 = 0.9, Beta2 = 0.999;
    private readonly float[] _m, _v;
    private readonly (int Offset, int Length)[] _ranges;
    private readonly double _weightDecay;
    private int _step;

    public FlatAdamW(int size, IEnumerable<(int Offset, int Length)> ranges, double weightDecay)
    {
        _m = new float[size];
        _v = new float[size];
        _ranges = ranges.ToArray();
        _weightDecay = weightDecay;
    }

    public unsafe void Step(Span<float> values, ReadOnlySpan<float> gradient, double learningRate)
    {
        _step++;
        float decay = _weightDecay > 0 ? (float)(1 - learningRate * _weightDecay) : 1f;
        float invSqrtBc2 = (float)(1 / Math.Sqrt(1 - Math.Pow(Beta2, _step))), stepSize = (float)(-learningRate / (1 - Math.Pow(Beta1, _step)));
        Vector256<float> b1 = Vector256.Create((float)Beta1), b2 = Vector256.Create((float)Beta2), c1 = Vector256.Create((float)(1 - Beta1)), c2 = Vector256.Create((float)(1 - Beta2));
        Vector256<float> dv = Vector256.Create(decay), sv = Vector256.Create(stepSize), bc = Vector256.Create(invSqrtBc2), eps = Vector256.Create(1e-8f);
        fixed (float* p = values, gp = gradient, m = _m, v = _v)
            foreach (var (offset, length) in _ranges)
            {
                int i = offset, end = offset + length;
                for (; i + 8 <= end; i += 8)
                {
                    var g = Vector256.Load(gp + i);
                    var mi = b1 * Vector256.Load(m + i) + c1 * g;
                    var vi = b2 * Vector256.Load(v + i) + c2 * (g * g);
                    Vector256.Store(mi, m + i);
                    Vector256.Store(vi, v + i);
                    Vector256.Store(Vector256.Load(p + i) * dv + sv * (mi / (Vector256.Sqrt(vi) * bc + eps)), p + i);
                }
                for (; i < end; i++)
                {
                    float g = gp[i];
                    m[i] = (float)Beta1 * m[i] + (float)(1 - Beta1) * g;
                    v[i] = (float)Beta2 * v[i] + (float)(1 - Beta2) * (g * g);
                    p[i] = p[i] * decay + stepSize * (m[i] / (MathF.Sqrt(v[i]) * invSqrtBc2 + 1e-8f));
                }
            }
    }
}

/// <summary>
/// A batch's rows in a fixed number of slots, each with its own tapes and gradient arena, spread over the cores; the
/// gradient is the sum of the slots' arenas in slot order, so it depends on the batch, not on the number of cores.
/// </summary>
internal sealed class SlotRunner<TWorkspace>
{
    private readonly TWorkspace[] _workspaces;
    private readonly Pinned[] _arenas;
    private readonly int _threads;

    /// <summary>Slots for <paramref name="maxRows"/> rows: about 32 rows or more each (fewer make the products small), at most 8.</summary>
    public static int SlotsFor(int maxRows) => Math.Clamp(maxRows / 32, 1, 8);

    public SlotRunner(int maxRows, GradientLayout gradients, Func<int, TWorkspace> workspace, int threads)
    {
        Slots = SlotsFor(maxRows);
        MaxRowsPerSlot = (maxRows + Slots - 1) / Slots;
        _workspaces = Enumerable.Range(0, Slots).Select(_ => workspace(MaxRowsPerSlot)).ToArray();
        _arenas = Enumerable.Range(0, Slots).Select(_ => new Pinned(gradients.Size)).ToArray();
        _threads = Math.Max(1, threads);
        Gradients = gradients;
    }

    /// <summary>Slots per batch (a function of the batch, not of the machine).</summary>
    public int Slots { get; }

    public int MaxRowsPerSlot { get; }
    public GradientLayout Gradients { get; }
    public TWorkspace this[int slot] => _workspaces[slot];

    /// <summary>Runs <paramref name="work"/>(workspace, arena, first row, rows) for each slot's share of <paramref name="rows"/> rows; <paramref name="clear"/> zeroes the arenas first.</summary>
    public List<int> Run(int rows, bool clear, Action<TWorkspace, Pinned, int, int> work)
    {
        if (rows > MaxRowsPerSlot * Slots) throw new ArgumentException($"{rows} rows exceed the {MaxRowsPerSlot * Slots} the slots were made for.");
        int per = (rows + Slots - 1) / Slots;
        var used = Enumerable.Range(0, Slots).Where(s => s * per < rows).ToList();
        Parallel.ForEach(used, new ParallelOptions { MaxDegreeOfParallelism = _threads }, s =>
        {
            if (clear) _arenas[s].Clear();
            work(_workspaces[s], _arenas[s], s * per, Math.Min(per, rows - s * per));
        });
        return used;
    }

    public void Reduce(List<int> used, float[] gradient) => Gradients.Reduce(_arenas, gradient, used);
}

/// <summary>
/// Trains a <see cref="TransformerAutoencoder"/>'s parameters in C# (its copy in <see cref="FlatParameters"/>): per step the
/// encoder and decoder forward and backward over both views in slots, the contrastive term on the latents by libtorch
/// (projection head with batch norm, NT-Xent — small next to the transformer), AdamW on the flat parameters. Same losses,
/// schedule and updates as the libtorch loop it replaces (CpuTrainingTests check the gradients against autograd).
/// </summary>
internal sealed unsafe class CpuAutoencoderTraining
{
    private readonly TransformerAutoencoder _model;
    private readonly WeightEmbeddingOptions _o;
    private readonly FlatParameters _parameters;
    private readonly CpuEncoder _encoder;
    private readonly CpuDecoder? _decoder;
    private readonly CpuContrast? _contrast;   // NT-Xent tasks: the projection head in C# too
    private readonly float _contrastWeight;
    private readonly SlotRunner<Workspace> _slots;
    private readonly FlatAdamW _adam;
    private readonly float[] _gradient;
    private readonly Pinned _input, _latents, _dLatents;
    private readonly int _p, _latentStride;

    private sealed class Workspace(CpuAutoencoderTraining t, int rows)
    {
        public readonly CpuEncoder.Tape Encoder = new(t._encoder, rows);
        public readonly CpuDecoder.Tape? Decoder = t._decoder is null ? null : new(t._decoder, rows);
        public readonly BackwardScratch Scratch = new(rows, t._encoder, t._decoder, t._o.ModelDim);
        public readonly Pinned DReconstruction = new((long)rows * t._p), DLatent = new((long)Pad.Rows(rows) * t._latentStride);
        public double SquaredError;
    }

    /// <param name="model">The autoencoder whose parameters are copied and trained.</param>
    /// <param name="o">Its options (task, γ, τ, weight decay).</param>
    /// <param name="head">The projection head of a contrastive task; its copy trains in C# for NT-Xent (null: none, or a positive-only task).</param>
    /// <param name="maxRows">Rows per step (both views).</param>
    /// <param name="threads">Cores to use.</param>
    public CpuAutoencoderTraining(TransformerAutoencoder model, WeightEmbeddingOptions o, ProjectionHead? head, int maxRows, int threads)
    {
        _model = model;
        _o = o;
        _p = model.Tokenizer.Layout.ParameterCount;
        _parameters = new FlatParameters(model);
        var gradients = new GradientLayout();
        _encoder = new CpuEncoder(_parameters, "", gradients, model.Tokenizer, o);
        _decoder = o.UsesReconstruction ? new CpuDecoder(_parameters, gradients, model.Tokenizer, o) : null;
        _latentStride = _encoder.LatentStride;
        _contrastWeight = (float)(o.UsesContrast && o.UsesReconstruction ? o.Gamma : 1);
        if (head is not null && o.Task is RepresentationTask.Contrast or RepresentationTask.ReconstructionAndContrast)
            _contrast = new CpuContrast(head, o.LatentDim, o.ProjectionHead, o.Temperature, maxRows, o.WeightDecay);
        _slots = new SlotRunner<Workspace>(maxRows, gradients, rows => new Workspace(this, rows), threads);
        var used = _parameters.Names.Where(n => _decoder is not null || !TransformerAutoencoder.IsDecoderPart(n)).Select(n => _parameters[n]);
        _adam = new FlatAdamW(_parameters.Values.Length, used, o.WeightDecay);
        _gradient = new float[_parameters.Values.Length];
        _input = new Pinned((long)maxRows * _p);
        _latents = new Pinned((long)maxRows * o.LatentDim);
        _dLatents = new Pinned((long)maxRows * o.LatentDim);
    }

    /// <summary>Whether <paramref name="model"/> with <paramref name="o"/> trains in C#: a transformer without dropout.</summary>
    public static bool Supports(WeightAutoencoder model, WeightEmbeddingOptions o) => CpuKernels.Enabled && model is TransformerAutoencoder && o.Dropout == 0;

    /// <summary>Whether the contrastive term is computed here (NT-Xent) rather than by a libtorch function given to <see cref="Backward"/>.</summary>
    public bool OwnsContrast => _contrast is not null;

    /// <summary>
    /// The loss terms of one batch (the rows of view A, then those of view B; normalised; NaN for a term the task lacks) and
    /// the gradient of the flat parameters in <see cref="Gradient"/>. A contrastive term this class does not own comes from
    /// <paramref name="contrast"/>: libtorch maps the latents [2B, L] (a leaf that requires grad) to the term, whose backward
    /// also fills the projection head's gradients.
    /// </summary>
    public (double Mse, double Contrast) Backward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int batch, Func<Tensor, Tensor>? contrast = null)
    {
        if (_o.UsesContrast && _contrast is null && contrast is null) throw new ArgumentException("This task's contrastive term needs its libtorch function.", nameof(contrast));
        int rows = 2 * batch, l = _o.LatentDim, ls = _latentStride, p = _p;
        a.CopyTo(_input.Span);
        b.CopyTo(_input.Span.Slice(batch * p));
        double rec = _o.UsesContrast ? 1 - _o.Gamma : 1;
        float scale = (float)(rec * 2.0 / ((double)rows * p));
        float* input = _input.P, latents = _latents.P;
        var values = _parameters.Values;
        // 1. the encoder forward
        var used = _slots.Run(rows, clear: true, (w, arena, first, n) =>
        {
            _encoder.Forward(input + (long)first * p, n, w.Encoder, values);
            float* z = w.Encoder.Latent.P;
            for (int r = 0; r < n; r++) Ops.Copy(z + r * ls, latents + (long)(first + r) * l, l);
            w.SquaredError = 0;
            if (_decoder is null) new Span<float>(w.DLatent.P, Pad.Rows(n) * ls).Clear();
        });
        // 2. the decoder forward and the reconstruction's backward down to the latents, in slots, while the contrastive term
        //    (the whole batch at once: batch norm couples its rows) takes its gradient back to them on a core of its own
        double contrastValue = double.NaN;
        void Reconstruction()
        {
            if (_decoder is null) return;
            _slots.Run(rows, clear: false, (w, arena, first, n) =>
            {
                float* x = input + (long)first * p, z = w.Encoder.Latent.P;
                _decoder.Forward(z, ls, n, w.Decoder!, values);
                float* dr = w.DReconstruction.P;
                w.SquaredError = Ops.ScaledDifference(w.Decoder!.Reconstruction.P, x, dr, scale, n * p);
                _decoder.Backward(dr, z, ls, n, w.Decoder!, values, arena.P, w.Scratch, w.DLatent.P);
            });
        }
        if (_contrast is not null) Parallel.Invoke(Reconstruction, () => contrastValue = _contrast.Backward(latents, l, rows, _contrastWeight, _dLatents.P));
        else
        {
            Reconstruction();
            if (_o.UsesContrast) contrastValue = TorchContrast(contrast!, rows);
        }
        double mse = _decoder is null ? double.NaN : used.Sum(s => _slots[s].SquaredError) / ((double)rows * p);
        // 3. encoder backward from both terms' gradients
        float* dLatents = _dLatents.P;
        bool contrasts = _o.UsesContrast;
        _slots.Run(rows, clear: false, (w, arena, first, n) =>
        {
            float* dz = w.DLatent.P;
            if (contrasts)
                for (int r = 0; r < n; r++) Ops.Add(dz + r * ls, dLatents + (long)(first + r) * l, l);
            _encoder.Backward(dz, n, w.Encoder, values, arena.P, w.Scratch);
        });
        _slots.Reduce(used, _gradient);
        return (mse, contrastValue);
    }

    /// <summary>A contrastive term this class does not have, by libtorch on the latents: its value, its gradient into the latents' gradient.</summary>
    private double TorchContrast(Func<Tensor, Tensor> contrast, int rows)
    {
        int l = _o.LatentDim;
        using var scope = NewDisposeScope();
        using var single = ThreadSetting.Apply(1);
        // A copy in libtorch's own (aligned) memory: MKL's products can round differently with the alignment of a managed array.
        var z = tensor(_latents.Span.Slice(0, rows * l).ToArray(), new long[] { rows, l }).clone().requires_grad_(true);
        var loss = contrast(z);
        loss.mul(_contrastWeight).backward();
        z.grad!.data<float>().CopyTo(_dLatents.Span.Slice(0, rows * l));
        return loss.item<float>();
    }

    /// <summary>The gradient of the flat parameters from the last <see cref="Backward"/>.</summary>
    public ReadOnlySpan<float> Gradient => _gradient;

    /// <summary>One AdamW step with the last gradient, then the layers repacked.</summary>
    public void Step(double learningRate)
    {
        _contrast?.Step(learningRate);
        _adam.Step(_parameters.Values.Span, _gradient, learningRate);
        foreach (var linear in _encoder.Linears.Concat(_decoder?.Linears ?? Enumerable.Empty<CpuLinear>())) linear.Refresh(_parameters.Values);
    }

    /// <summary>Writes the trained parameters into the module (before validation, saving, or a snapshot of the best state).</summary>
    public void CopyToModel() => _parameters.CopyTo(_model);

    /// <summary>The parameter names in the flat order, and their values.</summary>
    public FlatParameters Parameters => _parameters;

    /// <summary>The C# projection head's parameters and last gradient (null without one).</summary>
    public CpuContrast? Contrast => _contrast;
}
