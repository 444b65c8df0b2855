using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// MLP lanes: the batch is processed layer by layer (activations stored layer-major, [batch × width × lanes]), so
/// one call applies an activation or exp to a whole layer of the batch.
/// </summary>
internal sealed class LaneMlpGroup : LaneGroup
{
    private readonly int _in0, _classes;
    private readonly int[] _in, _out, _section, _width;
    private readonly bool[] _hasBias;
    private readonly float[] _z, _h, _a, _delta, _mask; // pre-activation, activation, after dropout, gradient, dropout scale
    private readonly Rng[] _dropout;                    // per sample of the step and lane

    public LaneMlpGroup(WeightLayout layout, ModelSpec[] models, int inputSize) : base(layout, models)
    {
        int layers = layout.Layers.Count;
        // This group runs flatten → (linear → act)* → linear; the architecture must say so.
        var architecture = NetworkArchitecture.For(layout);
        var mlp = new List<NetworkOp> { new(NetworkOpKind.Flatten) };
        for (int l = 0; l < layers; l++)
        {
            mlp.Add(new NetworkOp(NetworkOpKind.Linear, l));
            if (l < layers - 1) mlp.Add(new NetworkOp(NetworkOpKind.Activation));
        }
        if (!architecture.Ops.SequenceEqual(mlp))
            throw new ArgumentException($"The MLP lane group runs {string.Join(" → ", mlp)}; '{layout.Name}' is {architecture}.");
        _in = layout.Layers.Select(l => l.InFeatures).ToArray();
        _out = layout.Layers.Select(l => l.OutFeatures).ToArray();
        _hasBias = layout.Layers.Select(l => l.HasBias).ToArray();
        _in0 = _in[0];
        if (inputSize != _in0) throw new ArgumentException($"Inputs of {inputSize} values do not fit layer '{layout.Layers[0].Name}' ({_in0} inputs).");
        _classes = _out[^1];
        int maxBatch = models[0].BatchSize;
        _section = new int[layers + 1]; _width = new int[layers + 1];
        int a = 0;
        for (int l = 0; l <= layers; l++)
        {
            _width[l] = l == 0 ? _in0 : _out[l - 1];
            _section[l] = a; a += maxBatch * _width[l] * L;
        }
        _z = new float[a]; _h = new float[a]; _a = new float[a]; _delta = new float[a]; _mask = new float[a];
        _dropout = new Rng[maxBatch * L];
    }

    /// <summary>Activations of layer section <paramref name="l"/> for sample <paramref name="b"/>: [width × lanes].</summary>
    private Span<float> Slot(float[] buffer, int l, int b) => buffer.AsSpan(_section[l] + b * _width[l] * L, _width[l] * L);

    /// <summary>Section <paramref name="l"/> for the first <paramref name="bs"/> samples.</summary>
    private Span<float> Section(float[] buffer, int l, int bs) => buffer.AsSpan(_section[l], bs * _width[l] * L);

    public override void Step(float[] x, int[] y, int[][] orders, int start, int epoch, int threads = 1)
    {
        int layers = _out.Length;
        int bs = BeginStep(orders, start);
        Array.Clear(Grad);
        if (Dropout)
            for (int b = 0; b < bs; b++) SeedDropout(_dropout.AsSpan(b * L, L), epoch, start, b);
        // Gather each lane's own samples.
        for (int b = 0; b < bs; b++)
        {
            var a0 = Slot(_a, 0, b);
            for (int k = 0; k < L; k++)
            {
                int row = Row(orders, k, start, b);
                for (int i = 0; i < _in0; i++) a0[i * L + k] = x[row * _in0 + i];
            }
        }
        for (int l = 0; l < layers; l++) ForwardLayer(l, bs, training: true);
        // d(mean CE)/dlogits = (softmax − onehot) / bs.
        Span<int> rows = stackalloc int[L];
        Softmax(Section(_z, layers, bs), Section(_delta, layers, bs), bs, _classes);
        for (int b = 0; b < bs; b++)
        {
            for (int k = 0; k < L; k++) rows[k] = y[Row(orders, k, start, b)];
            var labels = new Vector<int>(rows);
            var weight = SampleWeight(b);
            var inShare = Vector.GreaterThan(weight, Vector<float>.Zero);
            var dv = V(Slot(_delta, layers, b));
            for (int c = 0; c < _classes; c++)
                dv[c] = Vector.ConditionalSelect(inShare,
                    (dv[c] - Vector.ConditionalSelect(Vector.Equals(labels, new Vector<int>(c)), Vector<float>.One, Vector<float>.Zero)) * weight, Vector<float>.Zero);
        }
        for (int b = 0; b < bs; b++) Backward(b);
        Update();
    }

    /// <summary>Layer l for the first bs samples: pre-activations, activation (one call for the batch), dropout.</summary>
    private void ForwardLayer(int l, int bs, bool training)
    {
        int nin = _in[l], nout = _out[l];
        var w = LayerWeights(Params, l);
        var bias = _hasBias[l] ? LayerBiases(Params, l) : default;
        // Hot loop: refs instead of span indexing (no bounds checks); every index stays inside the spans above.
        ref var w0 = ref MemoryMarshal.GetReference(w);
        for (int b = 0; b < bs; b++)
        {
            ref var in0 = ref MemoryMarshal.GetReference(V(Slot(_a, l, b)));
            var pre = V(Slot(_z, l + 1, b));
            for (int o = 0; o < nout; o++)
            {
                var s = _hasBias[l] ? bias[o] : Vector<float>.Zero;
                ref var row = ref Unsafe.Add(ref w0, o * nin);
                for (int i = 0; i < nin; i++) s += Unsafe.Add(ref row, i) * Unsafe.Add(ref in0, i);
                pre[o] = s;
            }
        }
        if (l == _out.Length - 1) return; // logits stay in _z
        var actSection = Section(_h, l + 1, bs);
        Activate(Section(_z, l + 1, bs), actSection);
        var outSection = Section(_a, l + 1, bs);
        if (!(training && Dropout)) { actSection.CopyTo(outSection); return; }
        var m = V(Section(_mask, l + 1, bs));
        DrawDropoutMask(m, _width[l + 1], _dropout, 0);
        TensorPrimitives.Multiply(actSection, Section(_mask, l + 1, bs), outSection);
    }

    private void Backward(int b)
    {
        for (int l = _out.Length - 1; l >= 0; l--)
        {
            int nin = _in[l], nout = _out[l];
            var delta = V(Slot(_delta, l + 1, b));
            var input = V(Slot(_a, l, b));
            var gw = LayerWeights(Grad, l);
            var w = LayerWeights(Params, l);
            if (_hasBias[l])
            {
                var gb = LayerBiases(Grad, l);
                for (int o = 0; o < nout; o++) gb[o] += delta[o];
            }
            ref var gw0 = ref MemoryMarshal.GetReference(gw);
            ref var in0 = ref MemoryMarshal.GetReference(input);
            for (int o = 0; o < nout; o++)
            {
                var dv = delta[o];
                ref var row = ref Unsafe.Add(ref gw0, o * nin);
                for (int i = 0; i < nin; i++) Unsafe.Add(ref row, i) += dv * Unsafe.Add(ref in0, i);
            }
            if (l == 0) break;
            var prevDelta = V(Slot(_delta, l, b));
            var prevZ = V(Slot(_z, l, b));
            var prevH = V(Slot(_h, l, b));
            var prevMask = V(Slot(_mask, l, b));
            ref var w0 = ref MemoryMarshal.GetReference(w);
            ref var d0 = ref MemoryMarshal.GetReference(delta);
            for (int i = 0; i < nin; i++)
            {
                var s = Vector<float>.Zero;
                for (int o = 0; o < nout; o++) s += Unsafe.Add(ref w0, o * nin + i) * Unsafe.Add(ref d0, o);
                if (Dropout) s *= prevMask[i];
                prevDelta[i] = s * Derivative(prevZ[i], prevH[i]);
            }
        }
    }

    /// <summary>
    /// Accuracy and mean cross-entropy of every real lane on a data set. Rows are evaluated in blocks, layer
    /// by layer, so the activation, exp and log run over whole blocks (losses summed in float64 per block).
    /// </summary>
    public override (float[] Accuracy, float[] Loss) Evaluate(float[] x, int[] y, int threads = 1, Vector<int>[]? rowLanes = null)
    {
        const int Block = 128;
        int layers = _out.Length, maxWidth = Math.Max(_in0, _out.Max());
        var cur = new float[Block * maxWidth * L];
        var next = new float[Block * maxWidth * L];
        var correct = Vector<int>.Zero;
        var loss = new double[L];
        for (int start = 0; start < y.Length; start += Block)
        {
            int rows = Math.Min(Block, y.Length - start);
            // cur[r][i] = broadcast input i of row r to all lanes.
            var cv = V(cur.AsSpan(0, rows * _in0 * L));
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < _in0; i++) cv[r * _in0 + i] = new Vector<float>(x[(start + r) * _in0 + i]);
            for (int l = 0; l < layers; l++)
            {
                int nin = _in[l], nout = _out[l];
                var input = V(cur.AsSpan(0, rows * nin * L));
                var output = V(next.AsSpan(0, rows * nout * L));
                var w = V(Params.AsSpan(Layout.WeightOffset(l) * L, nin * nout * L));
                var bias = _hasBias[l] ? V(Params.AsSpan(Layout.BiasOffset(l) * L, nout * L)) : default;
                ref var w0 = ref MemoryMarshal.GetReference(w);
                for (int r = 0; r < rows; r++)
                {
                    ref var in0 = ref MemoryMarshal.GetReference(input.Slice(r * nin, nin));
                    for (int o = 0; o < nout; o++)
                    {
                        var acc = _hasBias[l] ? bias[o] : Vector<float>.Zero;
                        ref var row = ref Unsafe.Add(ref w0, o * nin);
                        for (int i = 0; i < nin; i++) acc += Unsafe.Add(ref row, i) * Unsafe.Add(ref in0, i);
                        output[r * nout + o] = acc;
                    }
                }
                if (l < layers - 1) Activate(next.AsSpan(0, rows * nout * L), next.AsSpan(0, rows * nout * L));
                (cur, next) = (next, cur);
            }
            // cur holds logits [rows × classes × lanes].
            Score(cur, rows, _classes, y.AsSpan(start, rows), next, ref correct, loss, rowLanes is null ? default : rowLanes.AsSpan(start, rows));
        }
        return Means(k => correct[k], k => loss[k], y.Length, rowLanes);
    }
}
