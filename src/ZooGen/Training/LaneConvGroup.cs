using System.Numerics;
using WeightSpace.MLNet.Layout;
using WeightSpace.ZooGen.Data;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// CNN lanes (CNN-2464, CNN-4970): one sample at a time through a chain of ops whose tensors are stored
/// [channel × height × width × lanes], so each multiply-add of a convolution is one fused vector instruction for
/// all lanes, with no gathers or horizontal sums. Each sample's forward pass is followed at once by its backward
/// pass, accumulating the batch's gradient, so the working set (one sample's activations, ~0.2 MB) stays in cache.
/// The network is that of <see cref="Networks.ZooNetwork"/>: CNN-2464 = conv 5×5 → max-pool 2 → act, conv 5×5 →
/// max-pool 2 → act, conv 2×2 → act, flatten, linear → act, linear; CNN-4970 = three 3×3 convs of stride 2 → act,
/// global average pool, linear. Max-pool sends the gradient to the first maximum of each window, as torch does.
/// </summary>
internal sealed class LaneConvGroup : LaneGroup
{
    private readonly Op[] _ops;
    private readonly float[][] _val, _dval; // per slot: values and gradients, [size × lanes]
    private readonly int[] _size;
    private readonly int _inputSize, _classes;
    private int _sample; // the sample of the step being run (dropout draws follow each lane's share)

    public LaneConvGroup(WeightLayout layout, ModelSpec[] models, ImageDataset shape) : base(layout, models)
    {
        var shapes = new List<(int C, int H, int W)> { (shape.Channels, shape.Height, shape.Width) };
        var ops = new List<Op>();
        void Add(Op op, (int C, int H, int W) outShape)
        {
            op.In = shapes.Count - 1;
            op.Out = shapes.Count;
            shapes.Add(outShape);
            ops.Add(op);
        }
        (int C, int H, int W) Last() => shapes[^1];
        void Conv(int l, int stride)
        {
            var spec = layout.Layers[l];
            var (c, h, w) = Last();
            if (spec.Kind != LayerKind.Conv2d || spec.InFeatures != c || h < spec.KernelHeight || w < spec.KernelWidth || spec.KernelHeight != spec.KernelWidth)
                throw new ArgumentException($"Layer '{spec.Name}' ({spec.InFeatures} channels, {spec.KernelHeight}x{spec.KernelWidth}) does not fit its input of {c}x{h}x{w}.");
            int k = spec.KernelHeight;
            Add(new ConvOp(l, c, h, w, spec.OutFeatures, k, stride, spec.HasBias), (spec.OutFeatures, (h - k) / stride + 1, (w - k) / stride + 1));
        }
        void Pool() { var (c, h, w) = Last(); Add(new PoolOp(c, h, w), (c, h / 2, w / 2)); }
        void Act() { Add(new ActOp(), Last()); }
        void Linear(int l)
        {
            var spec = layout.Layers[l];
            var (c, h, w) = Last();
            if (spec.Kind != LayerKind.Linear || spec.InFeatures != c * h * w)
                throw new ArgumentException($"Layer '{spec.Name}' takes {spec.InFeatures} inputs, but the layer before it gives {c}x{h}x{w} = {c * h * w}.");
            Add(new LinearOp(l, spec.InFeatures, spec.OutFeatures, spec.HasBias), (spec.OutFeatures, 1, 1));
        }
        if (layout.Name == WeightLayout.Cnn2464.Name)
        {
            Conv(0, 1); Pool(); Act();
            Conv(1, 1); Pool(); Act();
            Conv(2, 1); Act();
            Linear(3); Act();
            Linear(4);
        }
        else if (layout.Name == WeightLayout.Cnn4970.Name)
        {
            Conv(0, 2); Act();
            Conv(1, 2); Act();
            Conv(2, 2); Act();
            var (c, h, w) = Last();
            Add(new MeanOp(c, h * w), (c, 1, 1));
            Linear(3);
        }
        else throw new ArgumentException($"No lane network for layout '{layout.Name}'.");
        _ops = ops.ToArray();
        _size = shapes.Select(s => s.C * s.H * s.W).ToArray();
        _val = _size.Select(n => new float[n * L]).ToArray();
        _dval = _size.Select((n, i) => i == 0 ? Array.Empty<float>() : new float[n * L]).ToArray();
        foreach (var op in _ops) op.Init(this);
        _inputSize = _size[0];
        _classes = _size[^1];
    }

    private Span<Vector<float>> Val(int slot) => V(_val[slot]);
    private Span<Vector<float>> DVal(int slot) => V(_dval[slot]);

    public override void Step(float[] x, int[] y, int[][] orders, int start)
    {
        int bs = BeginStep(orders, start);
        Array.Clear(Grad);
        Span<int> labels = stackalloc int[L];
        var input = _val[0];
        int last = _size.Length - 1;
        for (int b = 0; b < bs; b++)
        {
            _sample = b;
            for (int k = 0; k < L; k++)
            {
                int row = Row(orders, k, start, b);
                labels[k] = y[row];
                var src = x.AsSpan(row * _inputSize, _inputSize);
                for (int i = 0; i < src.Length; i++) input[i * L + k] = src[i];
            }
            foreach (var op in _ops) op.Forward(this, _val, training: true);
            // d(mean CE)/dlogits = (softmax − onehot) / bs.
            var delta = _dval[last];
            _val[last].CopyTo(delta, 0);
            Softmax(delta, _classes);
            var dv = DVal(last);
            var lab = new Vector<int>(labels);
            var weight = SampleWeight(b); // 1/batch share, 0 for a lane past its share (its gradient vanishes)
            var inShare = Vector.GreaterThan(weight, Vector<float>.Zero);
            for (int c = 0; c < _classes; c++)
                dv[c] = Vector.ConditionalSelect(inShare,
                    (dv[c] - Vector.ConditionalSelect(Vector.Equals(lab, new Vector<int>(c)), Vector<float>.One, Vector<float>.Zero)) * weight, Vector<float>.Zero);
            for (int i = _ops.Length - 1; i >= 0; i--) _ops[i].Backward(this);
        }
        Update();
    }

    /// <summary>
    /// Evaluation runs in chunks of <see cref="EvaluationChunk"/> rows, on several threads when the trainer has
    /// cores to spare (each worker with its own value buffers); each chunk sums its losses and the chunks are added
    /// in order, so the result does not depend on the number of threads or on the other lanes.
    /// </summary>
    public const int EvaluationChunk = 256;

    public override (float[] Accuracy, float[] Loss) Evaluate(float[] x, int[] y, int threads = 1)
    {
        int chunks = (y.Length + EvaluationChunk - 1) / EvaluationChunk;
        var chunkLoss = new double[chunks * L];
        var chunkCorrect = new int[chunks * L];
        void Chunk(int chunk, float[][] val) =>
            EvaluateRows(x, y, chunk * EvaluationChunk, Math.Min(y.Length, (chunk + 1) * EvaluationChunk), val,
                chunkLoss.AsSpan(chunk * L, L), chunkCorrect.AsSpan(chunk * L, L));
        if (threads <= 1)
            for (int chunk = 0; chunk < chunks; chunk++) Chunk(chunk, _val);
        else
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => _size.Select(n => new float[n * L]).ToArray(),
                (chunk, _, val) => { Chunk(chunk, val); return val; }, _ => { });
        int real = Models.Length;
        var accuracy = new float[real];
        var loss = new float[real];
        for (int k = 0; k < real; k++)
        {
            double l = 0; long c = 0;
            for (int chunk = 0; chunk < chunks; chunk++) { l += chunkLoss[chunk * L + k]; c += chunkCorrect[chunk * L + k]; }
            accuracy[k] = (float)((double)c / y.Length);
            loss[k] = (float)(l / y.Length);
        }
        return (accuracy, loss);
    }

    /// <summary>Rows [from, to) with every lane's weights: summed cross-entropy and correct predictions per lane.</summary>
    private void EvaluateRows(float[] x, int[] y, int from, int to, float[][] val, Span<double> loss, Span<int> correct)
    {
        var input = V(val[0]);
        var logits = V(val[^1]);
        Span<float> probs = stackalloc float[_classes * L];
        var pv = V(probs);
        Span<float> lse = stackalloc float[L];
        var hits = Vector<int>.Zero;
        for (int r = from; r < to; r++)
        {
            for (int i = 0; i < _inputSize; i++) input[i] = new Vector<float>(x[r * _inputSize + i]);
            foreach (var op in _ops) op.Forward(this, val, training: false);
            // argmax (first maximum, as torch) and cross-entropy = log Σ exp(z − max) − (z_y − max).
            var max = logits[0];
            var best = Vector<int>.Zero;
            for (int c = 1; c < _classes; c++)
            {
                var greater = Vector.GreaterThan(logits[c], max);
                max = Vector.ConditionalSelect(greater, logits[c], max);
                best = Vector.ConditionalSelect(greater, new Vector<int>(c), best);
            }
            hits -= Vector.Equals(best, new Vector<int>(y[r])); // matching lanes are −1
            for (int c = 0; c < _classes; c++) pv[c] = logits[c] - max;
            System.Numerics.Tensors.TensorPrimitives.Exp(probs, probs);
            var sum = Vector<float>.Zero;
            for (int c = 0; c < _classes; c++) sum += pv[c];
            sum.CopyTo(lse);
            System.Numerics.Tensors.TensorPrimitives.Log(lse, lse);
            var target = logits[y[r]] - max;
            for (int k = 0; k < L; k++) loss[k] += lse[k] - target[k];
        }
        for (int k = 0; k < L; k++) correct[k] = hits[k];
    }

    private abstract class Op
    {
        public int In, Out;
        public virtual void Init(LaneConvGroup g) { }
        /// <summary>Forward through this op on the value buffers <paramref name="val"/> (the group's own while training, a worker's while evaluating).</summary>
        public abstract void Forward(LaneConvGroup g, float[][] val, bool training);
        /// <summary>From the gradient of Out, accumulates parameter gradients and writes the gradient of In (unless In is the input).</summary>
        public abstract void Backward(LaneConvGroup g);
    }

    /// <summary>Convolution without padding, square kernel, [O, C, K, K] weights (torch's order); kernels in <see cref="LaneConvKernels"/>.</summary>
    private sealed class ConvOp(int layer, int c, int h, int w, int o, int k, int stride, bool hasBias) : Op
    {
        private readonly LaneConvKernels.Shape _shape = new(c, h, w, o, k, stride);

        public override void Forward(LaneConvGroup g, float[][] val, bool training) =>
            LaneConvKernels.Forward(_shape, V(val[In]), g.LayerWeights(g.Params, layer), hasBias ? g.LayerBiases(g.Params, layer) : default, V(val[Out]));

        public override void Backward(LaneConvGroup g)
        {
            var dout = g.DVal(Out);
            if (hasBias)
            {
                var gb = g.LayerBiases(g.Grad, layer);
                int plane = _shape.Plane;
                for (int oc = 0; oc < o; oc++)
                {
                    var sum = Vector<float>.Zero;
                    for (int j = 0; j < plane; j++) sum += dout[oc * plane + j];
                    gb[oc] += sum;
                }
            }
            LaneConvKernels.WeightGradient(_shape, g.Val(In), dout, g.LayerWeights(g.Grad, layer));
            if (In != 0) LaneConvKernels.InputGradient(_shape, g.LayerWeights(g.Params, layer), dout, g.DVal(In)); // no gradient for the images
        }
    }

    /// <summary>2×2 max-pool of stride 2 (odd edges dropped, as torch); remembers which of the four won, per lane.</summary>
    private sealed class PoolOp(int c, int h, int w) : Op
    {
        private readonly int _ph = h / 2, _pw = w / 2;
        private float[] _winner = Array.Empty<float>();

        public override void Init(LaneConvGroup g) => _winner = new float[c * _ph * _pw * g.L];

        public override void Forward(LaneConvGroup g, float[][] val, bool training)
        {
            var input = V(val[In]);
            var output = V(val[Out]);
            var win = V(_winner); // written while training only (evaluation runs on several threads)
            for (int ci = 0; ci < c; ci++)
                for (int py = 0; py < _ph; py++)
                    for (int px = 0; px < _pw; px++)
                    {
                        int top = (ci * h + 2 * py) * w + 2 * px;
                        var best = input[top];
                        var index = Vector<float>.Zero;
                        // Scan order (0,0), (0,1), (1,0), (1,1); only a strictly greater value replaces: the first maximum wins.
                        var v = input[top + 1]; var gt = Vector.GreaterThan(v, best);
                        best = Vector.ConditionalSelect(gt, v, best); index = Vector.ConditionalSelect(gt, new Vector<float>(1), index);
                        v = input[top + w]; gt = Vector.GreaterThan(v, best);
                        best = Vector.ConditionalSelect(gt, v, best); index = Vector.ConditionalSelect(gt, new Vector<float>(2), index);
                        v = input[top + w + 1]; gt = Vector.GreaterThan(v, best);
                        best = Vector.ConditionalSelect(gt, v, best); index = Vector.ConditionalSelect(gt, new Vector<float>(3), index);
                        int at = (ci * _ph + py) * _pw + px;
                        output[at] = best;
                        if (training) win[at] = index;
                    }
        }

        public override void Backward(LaneConvGroup g)
        {
            var din = g.DVal(In);
            var dout = g.DVal(Out);
            var win = V(_winner);
            if (h % 2 != 0 || w % 2 != 0) din.Clear();
            for (int ci = 0; ci < c; ci++)
                for (int py = 0; py < _ph; py++)
                    for (int px = 0; px < _pw; px++)
                    {
                        int at = (ci * _ph + py) * _pw + px, top = (ci * h + 2 * py) * w + 2 * px;
                        var d = dout[at];
                        var index = win[at];
                        din[top] = Vector.ConditionalSelect(Vector.Equals(index, Vector<float>.Zero), d, Vector<float>.Zero);
                        din[top + 1] = Vector.ConditionalSelect(Vector.Equals(index, new Vector<float>(1)), d, Vector<float>.Zero);
                        din[top + w] = Vector.ConditionalSelect(Vector.Equals(index, new Vector<float>(2)), d, Vector<float>.Zero);
                        din[top + w + 1] = Vector.ConditionalSelect(Vector.Equals(index, new Vector<float>(3)), d, Vector<float>.Zero);
                    }
        }
    }

    /// <summary>The activation, then inverted dropout while training.</summary>
    private sealed class ActOp : Op
    {
        private float[] _derivative = Array.Empty<float>(), _mask = Array.Empty<float>();

        public override void Init(LaneConvGroup g)
        {
            _derivative = new float[g._val[In].Length];
            _mask = new float[g._val[In].Length];
        }

        public override void Forward(LaneConvGroup g, float[][] val, bool training)
        {
            var output = val[Out];
            g.Activate(val[In], output, training ? _derivative : default);
            if (training && g.Dropout)
            {
                g.DrawDropoutMask(V(_mask), _mask.Length / g.L, g._sample);
                System.Numerics.Tensors.TensorPrimitives.Multiply(output, _mask, output);
                System.Numerics.Tensors.TensorPrimitives.Multiply(_derivative, _mask, _derivative); // the mask scales the backward pass alike
            }
        }

        public override void Backward(LaneConvGroup g) =>
            System.Numerics.Tensors.TensorPrimitives.Multiply(g._dval[Out], _derivative, g._dval[In]);
    }

    /// <summary>Global average pooling over each channel's <paramref name="count"/> positions.</summary>
    private sealed class MeanOp(int c, int count) : Op
    {
        public override void Forward(LaneConvGroup g, float[][] val, bool training)
        {
            var input = V(val[In]); var output = V(val[Out]);
            var n = new Vector<float>(count);
            for (int ci = 0; ci < c; ci++)
            {
                var s = Vector<float>.Zero;
                for (int j = 0; j < count; j++) s += input[ci * count + j];
                output[ci] = s / n;
            }
        }

        public override void Backward(LaneConvGroup g)
        {
            var din = g.DVal(In); var dout = g.DVal(Out);
            var n = new Vector<float>(count);
            for (int ci = 0; ci < c; ci++)
            {
                var d = dout[ci] / n;
                for (int j = 0; j < count; j++) din[ci * count + j] = d;
            }
        }
    }

    /// <summary>Fully connected layer, [out, in] weights.</summary>
    private sealed class LinearOp(int layer, int nin, int nout, bool hasBias) : Op
    {
        public override void Forward(LaneConvGroup g, float[][] val, bool training)
        {
            var input = V(val[In]); var output = V(val[Out]);
            var wt = g.LayerWeights(g.Params, layer);
            var bias = hasBias ? g.LayerBiases(g.Params, layer) : default;
            for (int o = 0; o < nout; o++)
            {
                var s = hasBias ? bias[o] : Vector<float>.Zero;
                var row = wt.Slice(o * nin, nin);
                for (int i = 0; i < nin; i++) s = Vector.FusedMultiplyAdd(row[i], input[i], s);
                output[o] = s;
            }
        }

        public override void Backward(LaneConvGroup g)
        {
            var input = g.Val(In); var dout = g.DVal(Out);
            var wt = g.LayerWeights(g.Params, layer);
            var gw = g.LayerWeights(g.Grad, layer);
            if (hasBias)
            {
                var gb = g.LayerBiases(g.Grad, layer);
                for (int o = 0; o < nout; o++) gb[o] += dout[o];
            }
            for (int o = 0; o < nout; o++)
            {
                var d = dout[o];
                var row = gw.Slice(o * nin, nin);
                for (int i = 0; i < nin; i++) row[i] = Vector.FusedMultiplyAdd(d, input[i], row[i]);
            }
            if (In == 0) return;
            var din = g.DVal(In);
            for (int i = 0; i < nin; i++)
            {
                var s = Vector<float>.Zero;
                for (int o = 0; o < nout; o++) s = Vector.FusedMultiplyAdd(wt[o * nin + i], dout[o], s);
                din[i] = s;
            }
        }
    }
}
