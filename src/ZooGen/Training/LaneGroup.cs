using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using WeightSpace.MLNet.Internal;
using WeightSpace.MLNet.Layout;
using WeightSpace.ZooGen.Networks;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// The state of up to <see cref="LanePopulationTrainer.Lanes"/> models trained one per SIMD lane: the flat weight
/// vectors (layout order) stored interleaved, parameter j of lane k at j·Lanes + k, so that every multiply-add and
/// every optimiser update is one vector instruction for all of them. Holds what MLP and CNN groups share: the
/// parameters, the optimisers (Adam, SGD with momentum 0.9, RMSprop; weight decay added to the gradient, as torch),
/// the activations and their derivatives, and per-lane dropout masks.
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
    private readonly Rng[] _dropRng;
    protected readonly string Activation;
    private readonly string _optimizer;
    private int _step;

    protected LaneGroup(WeightLayout layout, ModelSpec[] models)
    {
        Layout = layout;
        Models = models;
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
        _dropRng = lanes.Select(m => Rng.For(m.Seed, 0xD209)).ToArray();
        Activation = lanes[0].Activation;
        _optimizer = lanes[0].Optimizer;
    }

    /// <summary>One optimiser step on samples orders[k][start..start+bs) of each lane k.</summary>
    public abstract void Step(float[] x, int[] y, int[][] orders, int start, int bs);

    /// <summary>Accuracy and mean cross-entropy of every real lane on a data set.</summary>
    public abstract (float[] Accuracy, float[] Loss) Evaluate(float[] x, int[] y);

    protected static Span<Vector<float>> V(Span<float> s) => MemoryMarshal.Cast<float, Vector<float>>(s);

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

    /// <summary>Fills a dropout mask (0 or 1/(1−p) per lane) for <paramref name="mask"/>.Length units, in unit order per lane.</summary>
    protected void DrawDropoutMask(Span<Vector<float>> mask)
    {
        Span<float> keep = stackalloc float[L];
        for (int j = 0; j < mask.Length; j++)
        {
            for (int k = 0; k < L; k++) keep[k] = _dropRng[k].NextDouble() >= DropP[k] ? 1f : 0f;
            mask[j] = new Vector<float>(keep) * KeepScale;
        }
    }

    /// <summary>The activation over a whole span of lane vectors (<see cref="LaneMath"/>).</summary>
    protected void Activate(Span<float> pre, Span<float> act) => Activate(pre, act, default);

    /// <summary>
    /// The activation over a whole span of lane vectors, and, when <paramref name="derivative"/> is not empty, its
    /// derivative at each pre-activation (so the backward pass is one multiply).
    /// </summary>
    protected void Activate(Span<float> pre, Span<float> act, Span<float> derivative)
    {
        var z = V(pre); var h = V(act); var d = V(derivative);
        bool keep = !derivative.IsEmpty;
        switch (Activation)
        {
            case "tanh":
                for (int i = 0; i < z.Length; i++) { var t = LaneMath.Tanh(z[i]); h[i] = t; if (keep) d[i] = Vector<float>.One - t * t; }
                break;
            case "sigmoid":
                for (int i = 0; i < z.Length; i++) { var s = LaneMath.Sigmoid(z[i]); h[i] = s; if (keep) d[i] = s * (Vector<float>.One - s); }
                break;
            case "relu":
                for (int i = 0; i < z.Length; i++)
                {
                    var positive = Vector.GreaterThan(z[i], Vector<float>.Zero);
                    h[i] = Vector.ConditionalSelect(positive, z[i], Vector<float>.Zero);
                    if (keep) d[i] = Vector.ConditionalSelect(positive, Vector<float>.One, Vector<float>.Zero);
                }
                break;
            case "gelu":
                for (int i = 0; i < z.Length; i++) { var x = z[i]; h[i] = LaneMath.Gelu(x); if (keep) d[i] = LaneMath.GeluDerivative(x); }
                break;
            default: throw new ArgumentException($"activation '{Activation}' is not one of {string.Join(", ", ModelSpec.Activations)}.");
        }
    }

    /// <summary>d act / d pre-activation for one unit of every lane, from its pre-activation z and activation h.</summary>
    protected Vector<float> Derivative(Vector<float> z, Vector<float> h) => Activation switch
    {
        "tanh" => Vector<float>.One - h * h,
        "sigmoid" => h * (Vector<float>.One - h),
        "relu" => Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero),
        _ => LaneMath.GeluDerivative(z),
    };

    /// <summary>Softmax over the classes of one sample for every lane (in place), with its log-sum-exp.</summary>
    protected static void Softmax(Span<float> logits, int classes)
    {
        var lv = V(logits);
        var max = lv[0];
        for (int c = 1; c < classes; c++) max = Vector.Max(max, lv[c]);
        for (int c = 0; c < classes; c++) lv[c] -= max;
        TensorPrimitives.Exp(logits, logits);
        var sum = Vector<float>.Zero;
        for (int c = 0; c < classes; c++) sum += lv[c];
        var inv = Vector<float>.One / sum;
        for (int c = 0; c < classes; c++) lv[c] *= inv;
    }

    /// <summary>Applies the optimiser to the accumulated gradient.</summary>
    protected void Update()
    {
        _step++;
        var p = V(Params); var g = V(Grad); var m = V(_m); var v = V(_v);
        // Lanes are models: the lr and weight-decay vectors apply to every parameter vector alike.
        switch (_optimizer)
        {
            case "adam":
            {
                var invSqrtBc2 = new Vector<float>((float)(1 / Math.Sqrt(1 - Math.Pow(0.999, _step))));
                var stepSize = _lr / new Vector<float>((float)(1 - Math.Pow(0.9, _step)));
                var eps = new Vector<float>(1e-8f);
                for (int j = 0; j < p.Length; j++)
                {
                    var gj = g[j] + _wd * p[j];
                    m[j] = m[j] * 0.9f + gj * 0.1f;
                    v[j] = v[j] * 0.999f + gj * gj * 0.001f;
                    p[j] -= stepSize * m[j] / (Vector.SquareRoot(v[j]) * invSqrtBc2 + eps);
                }
                break;
            }
            case "sgd":
                for (int j = 0; j < p.Length; j++)
                {
                    var gj = g[j] + _wd * p[j];
                    m[j] = _step == 1 ? gj : m[j] * 0.9f + gj;
                    p[j] -= _lr * m[j];
                }
                break;
            case "rmsprop":
            {
                var eps = new Vector<float>(1e-8f);
                for (int j = 0; j < p.Length; j++)
                {
                    var gj = g[j] + _wd * p[j];
                    v[j] = v[j] * 0.99f + gj * gj * 0.01f;
                    p[j] -= _lr * gj / (Vector.SquareRoot(v[j]) + eps);
                }
                break;
            }
            default: throw new ArgumentException($"optimizer '{_optimizer}' is not one of {string.Join(", ", ModelSpec.Optimizers)}.");
        }
    }
}
