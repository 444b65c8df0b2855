using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// The state of up to <see cref="LanePopulationTrainer.Lanes"/> models trained one per SIMD lane: the flat weight
/// vectors (layout order) stored interleaved, parameter j of lane k at j·Lanes + k, so that every multiply-add and
/// every optimiser update is one vector instruction for all of them. Holds what MLP and CNN groups share: the
/// parameters, the optimisers (Adam, SGD with momentum 0.9, RMSprop; weight decay added to the gradient, as torch),
/// the activations and their derivatives, and per-lane dropout masks.
/// Lanes may differ in everything but the batch size: activation and optimiser are applied per lane (each present
/// one computed for all lanes and selected by lane), and lanes whose training subsets differ in length take part in
/// a step only while they have samples left (<see cref="BeginStep"/>); a lane's arithmetic, dropout draws included,
/// never depends on the other lanes, so a model is bit-identical whatever group it trains in.
/// </summary>
internal abstract class LaneGroup
{
    protected readonly int L = LanePopulationTrainer.Lanes;
    protected readonly WeightLayout Layout;
    protected readonly ModelSpec[] Models;
    protected readonly float[] Params, Grad;
    private readonly float[] _m, _v;
    private readonly Vector<float> _lr, _wd;
    protected readonly Vector<float> KeepScale, DropP;
    protected readonly bool Dropout;
    private readonly int[] _seeds;
    private readonly (Activation Kind, Vector<int> Lanes)[] _activations; // each activation present and the lanes using it
    private readonly (Optimizer Name, Vector<int> Lanes)[] _optimizers;
    private readonly int[] _steps;          // optimiser steps taken, per lane
    private readonly int[] _laneBatch;      // samples of the current step, per lane (0 = the lane sits this step out)
    protected readonly int BatchSize;


    protected LaneGroup(WeightLayout layout, ModelSpec[] models)
    {
        Layout = layout;
        Models = models;
        if (models.Select(m => m.BatchSize).Distinct().Count() != 1) throw new ArgumentException("The models of one lane group share a batch size; group them first.");
        BatchSize = models[0].BatchSize;
        // Pad a short group with copies of its first model (their results are dropped).
        var lanes = Enumerable.Range(0, L).Select(k => models[Math.Min(k, models.Length - 1)]).ToArray();
        int p = layout.ParameterCount;
        Params = new float[p * L]; Grad = new float[p * L]; _m = new float[p * L]; _v = new float[p * L];
        for (int k = 0; k < L; k++)
        {
            var init = Initializer.Create(layout, lanes[k].Init, lanes[k].Seed);
            for (int j = 0; j < p; j++) Params[j * L + k] = init[j];
        }
        _lr = new Vector<float>(lanes.Select(m => (float)m.LearningRate).ToArray());
        _wd = new Vector<float>(lanes.Select(m => (float)m.WeightDecay).ToArray());
        DropP = new Vector<float>(lanes.Select(m => (float)m.Dropout).ToArray());
        KeepScale = new Vector<float>(lanes.Select(m => (float)(1 / (1 - m.Dropout))).ToArray());
        Dropout = lanes.Any(m => m.Dropout > 0);
        _seeds = lanes.Select(m => m.Seed).ToArray();
        Vector<int> LanesWhere(Func<ModelSpec, bool> f) => new(lanes.Select(m => f(m) ? -1 : 0).ToArray());
        _activations = lanes.Select(m => m.Activation).Distinct().Select(a => (a, LanesWhere(m => m.Activation == a))).ToArray();
        _optimizers = lanes.Select(m => m.Optimizer).Distinct().Select(o => (o, LanesWhere(m => m.Optimizer == o))).ToArray();
        _steps = new int[L];
        _laneBatch = new int[L];
    }

    /// <summary>
    /// One optimiser step on samples orders[k][start..start+BatchSize) of each lane k (fewer where its order ends)
    /// in <paramref name="epoch"/>, on up to <paramref name="threads"/> threads where the group can use them.
    /// </summary>
    public abstract void Step(float[] x, int[] y, int[][] orders, int start, int epoch, int threads = 1);

    /// <summary>
    /// Accuracy and mean cross-entropy of every real lane on a data set, on up to <paramref name="threads"/> threads.
    /// With <paramref name="rowLanes"/> (one mask per row, see <see cref="RowLanes"/>) each lane counts only the rows
    /// its mask sets: its own training subset.
    /// </summary>
    public abstract (float[] Accuracy, float[] Loss) Evaluate(float[] x, int[] y, int threads = 1, Vector<int>[]? rowLanes = null);

    /// <summary>
    /// Per row of a training set of <paramref name="rows"/> images, the lanes whose subset holds it (−1 = yes; padding
    /// lanes take the last model's subset), for <see cref="Evaluate"/>; null when every lane trains on all rows.
    /// </summary>
    public Vector<int>[]? RowLanes(int[][] subsets, int rows)
    {
        if (subsets.All(s => s.Length == rows)) return null;
        var mask = new int[rows * L];
        for (int k = 0; k < L; k++)
            foreach (var r in subsets[Math.Min(k, subsets.Length - 1)]) mask[r * L + k] = -1;
        return MemoryMarshal.Cast<int, Vector<int>>(mask.AsSpan()).ToArray();
    }

    /// <summary>Each real lane's correct predictions and summed loss divided by the rows it counts (all, or those <paramref name="rowLanes"/> sets).</summary>
    protected (float[] Accuracy, float[] Loss) Means(Func<int, long> correct, Func<int, double> loss, int rows, Vector<int>[]? rowLanes)
    {
        int real = Models.Length;
        var accuracy = new float[real];
        var mean = new float[real];
        for (int k = 0; k < real; k++)
        {
            long n = rows;
            if (rowLanes is not null) { n = 0; foreach (var m in rowLanes) if (m[k] != 0) n++; }
            accuracy[k] = (float)((double)correct(k) / n);
            mean[k] = (float)(loss(k) / n);
        }
        return (accuracy, mean);
    }

    protected static Span<Vector<float>> V(Span<float> s) => MemoryMarshal.Cast<float, Vector<float>>(s);

    /// <summary>
    /// Sets each lane's share of the step that starts at <paramref name="start"/> of its order (orders[k], padding
    /// lanes use the last order) and returns the most samples any lane takes.
    /// </summary>
    protected int BeginStep(int[][] orders, int start)
    {
        int most = 0;
        for (int k = 0; k < L; k++)
        {
            _laneBatch[k] = Math.Clamp(orders[Math.Min(k, orders.Length - 1)].Length - start, 0, BatchSize);
            most = Math.Max(most, _laneBatch[k]);
        }
        return most;
    }

    /// <summary>The training row lane k reads as sample b of the step (a lane past its share reads its first row; its gradient is zeroed).</summary>
    protected static int Row(int[][] orders, int k, int start, int b)
    {
        var order = orders[Math.Min(k, orders.Length - 1)];
        return start + b < order.Length ? order[start + b] : order[0];
    }

    /// <summary>Per lane: 1 / its batch share, or 0 where sample <paramref name="b"/> is past the share (its gradient then vanishes).</summary>
    protected Vector<float> SampleWeight(int b)
    {
        Span<float> w = stackalloc float[L];
        for (int k = 0; k < L; k++) w[k] = b < _laneBatch[k] ? 1f / _laneBatch[k] : 0f;
        return new Vector<float>(w);
    }

    /// <summary>Lane k's flat weight vector (layout order).</summary>
    public float[] Weights(int k)
    {
        var w = new float[Layout.ParameterCount];
        for (int j = 0; j < w.Length; j++) w[j] = Params[j * L + k];
        return w;
    }

    /// <summary>Weights of layer l: [WeightCount × lanes] vectors.</summary>
    protected Span<Vector<float>> LayerWeights(float[] buffer, int l) =>
        V(buffer.AsSpan(Layout.WeightOffset(l) * L, Layout.Layers[l].WeightCount * L));

    /// <summary>Biases of layer l: [BiasCount × lanes] vectors.</summary>
    protected Span<Vector<float>> LayerBiases(float[] buffer, int l) =>
        V(buffer.AsSpan(Layout.BiasOffset(l) * L, Layout.Layers[l].BiasCount * L));

    /// <summary>
    /// Sets <paramref name="generators"/>[k] to lane k's dropout generator for sample b of the step that starts at
    /// <paramref name="start"/> of <paramref name="epoch"/>: one stream per (model, epoch, position in its order), so
    /// the masks depend neither on the lane's group nor on which thread draws them.
    /// </summary>
    protected void SeedDropout(Span<Rng> generators, int epoch, int start, int b)
    {
        for (int k = 0; k < L; k++) generators[k] = Rng.For(_seeds[k], 0xD20A, ((long)epoch << 32) | (uint)(start + b));
    }

    /// <summary>
    /// Fills a dropout mask (0 or 1/(1−p) per lane) for <paramref name="mask"/>.Length units that belong to samples
    /// firstSample, firstSample + 1, … (<paramref name="unitsPerSample"/> each, in unit order), drawing for sample
    /// firstSample + i from generators[i·Lanes + k] (<see cref="SeedDropout"/>). A lane past its share of the step
    /// draws nothing.
    /// </summary>
    protected void DrawDropoutMask(Span<Vector<float>> mask, int unitsPerSample, Span<Rng> generators, int firstSample)
    {
        Span<float> keep = stackalloc float[L];
        for (int j = 0; j < mask.Length; j++)
        {
            int i = j / unitsPerSample, sample = firstSample + i;
            for (int k = 0; k < L; k++) keep[k] = sample < _laneBatch[k] && generators[i * L + k].NextDouble() >= DropP[k] ? 1f : 0f;
            mask[j] = new Vector<float>(keep) * KeepScale;
        }
    }

    /// <summary>The activation over a whole span of lane vectors (<see cref="LaneMath"/>).</summary>
    protected void Activate(Span<float> pre, Span<float> act) => Activate(pre, act, default);

    /// <summary>
    /// The activation over a whole span of lane vectors, and, when <paramref name="derivative"/> is not empty, its
    /// derivative at each pre-activation (so the backward pass is one multiply). <paramref name="pre"/> and
    /// <paramref name="act"/> may be the same span.
    /// </summary>
    protected void Activate(Span<float> pre, Span<float> act, Span<float> derivative)
    {
        var z = V(pre); var h = V(act); var d = V(derivative);
        bool keep = !derivative.IsEmpty, mixed = _activations.Length > 1;
        // One pass per activation present; with several, each lane keeps its own (a lane's z is read before its h is written).
        foreach (var (kind, lanes) in _activations)
        {
            switch (kind)
            {
                case Activation.Tanh:
                    for (int i = 0; i < z.Length; i++)
                    {
                        var t = LaneMath.Tanh(z[i]);
                        var dt = Vector<float>.One - t * t;
                        if (!mixed) { h[i] = t; if (keep) d[i] = dt; }
                        else { h[i] = Vector.ConditionalSelect(lanes, t, h[i]); if (keep) d[i] = Vector.ConditionalSelect(lanes, dt, d[i]); }
                    }
                    break;
                case Activation.Sigmoid:
                    for (int i = 0; i < z.Length; i++)
                    {
                        var s = LaneMath.Sigmoid(z[i]);
                        var ds = s * (Vector<float>.One - s);
                        if (!mixed) { h[i] = s; if (keep) d[i] = ds; }
                        else { h[i] = Vector.ConditionalSelect(lanes, s, h[i]); if (keep) d[i] = Vector.ConditionalSelect(lanes, ds, d[i]); }
                    }
                    break;
                case Activation.Relu:
                    for (int i = 0; i < z.Length; i++)
                    {
                        var x = z[i];
                        var positive = Vector.GreaterThan(x, Vector<float>.Zero);
                        var r = Vector.ConditionalSelect(positive, x, Vector<float>.Zero);
                        var dr = Vector.ConditionalSelect(positive, Vector<float>.One, Vector<float>.Zero);
                        if (!mixed) { h[i] = r; if (keep) d[i] = dr; }
                        else { h[i] = Vector.ConditionalSelect(lanes, r, h[i]); if (keep) d[i] = Vector.ConditionalSelect(lanes, dr, d[i]); }
                    }
                    break;
                default:
                    for (int i = 0; i < z.Length; i++)
                    {
                        var x = z[i];
                        var gl = LaneMath.Gelu(x);
                        if (!mixed) { h[i] = gl; if (keep) d[i] = LaneMath.GeluDerivative(x); }
                        else { h[i] = Vector.ConditionalSelect(lanes, gl, h[i]); if (keep) d[i] = Vector.ConditionalSelect(lanes, LaneMath.GeluDerivative(x), d[i]); }
                    }
                    break;
            }
        }
    }

    /// <summary>d act / d pre-activation for one unit of every lane, from its pre-activation z and activation h.</summary>
    protected Vector<float> Derivative(Vector<float> z, Vector<float> h)
    {
        var result = Vector<float>.Zero;
        foreach (var (kind, lanes) in _activations)
        {
            var d = kind switch
            {
                Activation.Tanh => Vector<float>.One - h * h,
                Activation.Sigmoid => h * (Vector<float>.One - h),
                Activation.Relu => Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero),
                _ => LaneMath.GeluDerivative(z),
            };
            if (_activations.Length == 1) return d;
            result = Vector.ConditionalSelect(lanes, d, result);
        }
        return result;
    }

    /// <summary>
    /// Softmax over the classes for every lane and sample, the one softmax of the lane groups: logits
    /// [samples × classes × lanes] → probabilities of the same shape (the two may be the same span).
    /// </summary>
    protected static void Softmax(Span<float> logits, Span<float> probabilities, int samples, int classes)
    {
        var lv = V(logits);
        var pv = V(probabilities);
        for (int b = 0; b < samples; b++)
        {
            var max = lv[b * classes];
            for (int c = 1; c < classes; c++) max = Vector.Max(max, lv[b * classes + c]);
            for (int c = 0; c < classes; c++) pv[b * classes + c] = lv[b * classes + c] - max;
        }
        TensorPrimitives.Exp(probabilities, probabilities);
        for (int b = 0; b < samples; b++)
        {
            var sum = Vector<float>.Zero;
            for (int c = 0; c < classes; c++) sum += pv[b * classes + c];
            var inv = Vector<float>.One / sum;
            for (int c = 0; c < classes; c++) pv[b * classes + c] *= inv;
        }
    }

    /// <summary>
    /// The one evaluation step of the lane groups: for <paramref name="samples"/> rows of logits [samples × classes ×
    /// lanes] (shifted in place), the argmax (first maximum, as torch) against <paramref name="labels"/> — matching lanes
    /// subtract 1 from <paramref name="hits"/> (Vector.Equals gives −1) — and the cross-entropy
    /// log Σ exp(z − max) − (z_y − max), summed over the rows in float and then added to <paramref name="loss"/>.
    /// <paramref name="scratch"/> holds (samples × classes + samples) × lanes floats. With <paramref name="rowLanes"/>
    /// (one mask per row; empty = every lane) a row counts only in the lanes its mask sets (it adds exactly 0 to the others).
    /// </summary>
    protected void Score(Span<float> logits, int samples, int classes, ReadOnlySpan<int> labels, Span<float> scratch, ref Vector<int> hits, Span<double> loss,
        ReadOnlySpan<Vector<int>> rowLanes = default)
    {
        bool masked = !rowLanes.IsEmpty;
        int n = samples * classes * L;
        var lv = V(logits[..n]);
        for (int r = 0; r < samples; r++)
        {
            var max = lv[r * classes];
            var best = Vector<int>.Zero;
            for (int c = 1; c < classes; c++)
            {
                var greater = Vector.GreaterThan(lv[r * classes + c], max);
                max = Vector.ConditionalSelect(greater, lv[r * classes + c], max);
                best = Vector.ConditionalSelect(greater, new Vector<int>(c), best);
            }
            var hit = Vector.Equals(best, new Vector<int>(labels[r]));
            hits -= masked ? hit & rowLanes[r] : hit;
            for (int c = 0; c < classes; c++) lv[r * classes + c] -= max;
        }
        var exps = scratch[..n];
        var sums = scratch.Slice(n, samples * L);
        TensorPrimitives.Exp(logits[..n], exps);
        var ev = V(exps);
        var sv = V(sums);
        for (int r = 0; r < samples; r++)
        {
            var sum = Vector<float>.Zero;
            for (int c = 0; c < classes; c++) sum += ev[r * classes + c];
            sv[r] = sum;
        }
        TensorPrimitives.Log(sums, sums);
        var blockLoss = Vector<float>.Zero;
        for (int r = 0; r < samples; r++)
            blockLoss += masked ? Vector.ConditionalSelect(rowLanes[r], sv[r] - lv[r * classes + labels[r]], Vector<float>.Zero) : sv[r] - lv[r * classes + labels[r]];
        for (int k = 0; k < L; k++) loss[k] += blockLoss[k];
    }

    /// <summary>Applies each lane's optimiser to its accumulated gradient; lanes that sat the step out stay as they are.</summary>
    protected void Update()
    {
        Span<float> bc1 = stackalloc float[L], invSqrtBc2 = stackalloc float[L];
        Span<int> first = stackalloc int[L], active = stackalloc int[L];
        bool allActive = true;
        for (int k = 0; k < L; k++)
        {
            bool on = _laneBatch[k] > 0;
            allActive &= on;
            if (on) _steps[k]++;
            int t = Math.Max(1, _steps[k]);
            bc1[k] = (float)(1 - Math.Pow(0.9, t));
            invSqrtBc2[k] = (float)(1 / Math.Sqrt(1 - Math.Pow(0.999, t)));
            first[k] = _steps[k] == 1 ? -1 : 0;
            active[k] = on ? -1 : 0;
        }
        var stepSize = _lr / new Vector<float>(bc1);
        var ibc2 = new Vector<float>(invSqrtBc2);
        var firstStep = new Vector<int>(first);
        var eps = new Vector<float>(1e-8f);
        var p = V(Params); var g = V(Grad); var m = V(_m); var v = V(_v);
        // Lanes are models: the lr and weight-decay vectors apply to every parameter vector alike.
        if (_optimizers.Length == 1 && allActive)
        {
            // Every lane active with the same optimiser: no masks.
            switch (_optimizers[0].Name)
            {
                case Optimizer.Adam:
                    for (int j = 0; j < p.Length; j++) p[j] = AdamStep(p[j], g[j] + _wd * p[j], ref m[j], ref v[j], stepSize, ibc2, eps);
                    break;
                case Optimizer.Sgd:
                    for (int j = 0; j < p.Length; j++) p[j] = SgdStep(p[j], g[j] + _wd * p[j], ref m[j], _lr, firstStep);
                    break;
                default:
                    for (int j = 0; j < p.Length; j++) p[j] = RmsPropStep(p[j], g[j] + _wd * p[j], ref v[j], _lr, eps);
                    break;
            }
            return;
        }
        // General case: every optimiser present computed for all lanes, each lane keeps its own; idle lanes keep theirs.
        var on0 = new Vector<int>(active);
        foreach (var (name, lanes) in _optimizers)
        {
            var mine = lanes & on0;
            if (mine == Vector<int>.Zero) continue;
            for (int j = 0; j < p.Length; j++)
            {
                Vector<float> pj = p[j], gj = g[j] + _wd * pj, mj = m[j], vj = v[j];
                var updated = name switch
                {
                    Optimizer.Adam => AdamStep(pj, gj, ref mj, ref vj, stepSize, ibc2, eps),
                    Optimizer.Sgd => SgdStep(pj, gj, ref mj, _lr, firstStep),
                    _ => RmsPropStep(pj, gj, ref vj, _lr, eps),
                };
                m[j] = Vector.ConditionalSelect(mine, mj, m[j]);
                v[j] = Vector.ConditionalSelect(mine, vj, v[j]);
                p[j] = Vector.ConditionalSelect(mine, updated, pj);
            }
        }
    }

    // The one definition of each optimiser (torch.optim's update; g already holds the weight decay): the new parameter,
    // with the moments updated in place. Both paths above call them, so masked and unmasked lanes compute alike.

    /// <summary>Adam (β 0.9 / 0.999): m ← 0.9 m + 0.1 g, v ← 0.999 v + 0.001 g², p − lr/bc1 · m / (√v / √bc2 + ε).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> AdamStep(Vector<float> p, Vector<float> g, ref Vector<float> m, ref Vector<float> v, Vector<float> stepSize, Vector<float> invSqrtBc2, Vector<float> eps)
    {
        m = m * 0.9f + g * 0.1f;
        v = v * 0.999f + g * g * 0.001f;
        return p - stepSize * m / (Vector.SquareRoot(v) * invSqrtBc2 + eps);
    }

    /// <summary>SGD with momentum 0.9 (torch: the buffer starts as the first gradient): m ← g on the first step, else 0.9 m + g; p − lr · m.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> SgdStep(Vector<float> p, Vector<float> g, ref Vector<float> m, Vector<float> lr, Vector<int> firstStep)
    {
        m = Vector.ConditionalSelect(firstStep, g, m * 0.9f + g);
        return p - lr * m;
    }

    /// <summary>RMSprop (α 0.99): v ← 0.99 v + 0.01 g², p − lr · g / (√v + ε).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> RmsPropStep(Vector<float> p, Vector<float> g, ref Vector<float> v, Vector<float> lr, Vector<float> eps)
    {
        v = v * 0.99f + g * g * 0.01f;
        return p - lr * g / (Vector.SquareRoot(v) + eps);
    }
}
