using System.Numerics;
using System.Numerics.Tensors;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Data;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// CNN lanes (CNN-2464, CNN-4970): one sample at a time through a chain of ops whose tensors are stored
/// [channel × height × width × lanes], so each multiply-add of a convolution is one fused vector instruction for
/// all lanes, with no gathers or horizontal sums. Each sample's forward pass is followed at once by its backward
/// pass, accumulating the gradient, so the working set (one sample's activations, ~0.6 MB) stays in cache.
/// A step's samples are split into up to <see cref="MaxShares"/> fixed shares, each with its own buffers and
/// gradient (<see cref="Worker"/>); the shares run one after another or, when the trainer has idle cores, at once,
/// and their gradients are added in share order — so the result never depends on the number of threads. Dropout
/// masks come from a generator per (lane, epoch, position in the epoch), for the same reason.
/// The network is the layout's <see cref="NetworkArchitecture"/> (which the TorchSharp reference ZooNetwork in
/// tests/ZooGen.Reference reads too). Max-pool sends the gradient to the first maximum of each window, as torch does.
/// </summary>
internal sealed class LaneConvGroup : LaneGroup
{
    /// <summary>The most shares a step's samples are split into (fixed: results must not depend on the machine).</summary>
    public const int MaxShares = 8;
    /// <summary>Rows per evaluation chunk (each chunk's losses are summed, then the chunks in order).</summary>
    public const int EvaluationChunk = 256;

    private readonly Op[] _ops;
    private readonly int[] _size;   // values per tensor (per lane)
    private readonly int _inputSize, _classes;
    private readonly Worker[] _workers;

    public LaneConvGroup(WeightLayout layout, ModelSpec[] models, ImageDataset shape) : base(layout, models)
    {
        // The network is the layout's NetworkArchitecture: its Shapes() is the fit check (errors name the layer), and each
        // op of the chain becomes a lane op; flatten is free (the buffer is the same, channel-major).
        var architecture = NetworkArchitecture.For(layout);
        var all = architecture.Shapes(shape.Channels, shape.Height, shape.Width);
        var shapes = new List<(int C, int H, int W)> { all[0] };
        var ops = new List<Op>();
        for (int i = 0; i < architecture.Ops.Count; i++)
        {
            var a = architecture.Ops[i];
            var (c, h, w) = all[i];
            var spec = a.Layer >= 0 ? layout.Layers[a.Layer] : null;
            Op? op = a.Kind switch
            {
                NetworkOpKind.Conv when spec!.KernelHeight == spec.KernelWidth => new ConvOp(a.Layer, c, h, w, spec.OutFeatures, spec.KernelHeight, a.Stride, spec.HasBias),
                NetworkOpKind.Linear => new LinearOp(a.Layer, spec!.InFeatures, spec.OutFeatures, spec.HasBias),
                NetworkOpKind.MaxPool when a.Size == 2 => new PoolOp(c, h, w),
                NetworkOpKind.Activation => new ActOp(),
                NetworkOpKind.GlobalMeanPool => new MeanOp(c, h * w),
                NetworkOpKind.Flatten => null,
                _ => throw new ArgumentException($"The lane trainer has no kernel for op {a} of '{layout.Name}' (square kernels and 2x2 pooling only)."),
            };
            if (op is null) { shapes[^1] = all[i + 1]; continue; }
            op.Index = ops.Count;
            op.In = shapes.Count - 1;
            op.Out = shapes.Count;
            shapes.Add(all[i + 1]);
            ops.Add(op);
        }
        _ops = ops.ToArray();
        _size = shapes.Select(s => s.C * s.H * s.W).ToArray();
        _inputSize = _size[0];
        _classes = _size[^1];
        _workers = Enumerable.Range(0, Math.Min(MaxShares, BatchSize)).Select(_ => new Worker(this)).ToArray();
    }

    /// <summary>The buffers one thread needs to run samples: every tensor's values and gradients, each op's scratch, a gradient sum, dropout generators.</summary>
    private sealed class Worker
    {
        public readonly float[][] Val, DVal, Scratch;
        public readonly float[] Grad;
        public readonly Rng[] Dropout;
        public int Sample; // the sample of the step being run

        public Worker(LaneConvGroup g)
        {
            Val = g._size.Select(n => new float[n * g.L]).ToArray();
            DVal = g._size.Select((n, i) => i == 0 ? Array.Empty<float>() : new float[n * g.L]).ToArray();
            Scratch = g._ops.Select(op => new float[op.ScratchSize(g) * g.L]).ToArray();
            Grad = new float[g.Grad.Length];
            Dropout = new Rng[g.L];
        }
    }

    public override void Step(float[] x, int[] y, int[][] orders, int start, int epoch, int threads = 1)
    {
        int bs = BeginStep(orders, start);
        // Sample b belongs to share b·shares/BatchSize whatever this step's size, so a lane's samples fall into the same
        // shares in any group (a lane past its share adds exact zeros to the others' shares).
        int First(int s) => s * BatchSize / _workers.Length;
        int shares = _workers.Length;
        while (First(shares - 1) >= bs) shares--; // drop the shares with no sample in this step
        void RunShare(int s)
        {
            var worker = _workers[s];
            Array.Clear(worker.Grad);
            for (int b = First(s); b < Math.Min(bs, First(s + 1)); b++) RunSample(worker, x, y, orders, start, b, epoch);
        }
        if (threads <= 1 || shares == 1)
            for (int s = 0; s < shares; s++) RunShare(s);
        else
            Parallel.For(0, shares, new ParallelOptions { MaxDegreeOfParallelism = threads }, RunShare);
        // The batch gradient: the shares' sums, added in share order.
        var grad = V(Grad);
        V(_workers[0].Grad).CopyTo(grad);
        for (int s = 1; s < shares; s++)
        {
            var part = V(_workers[s].Grad);
            for (int j = 0; j < grad.Length; j++) grad[j] += part[j];
        }
        Update();
    }

    /// <summary>Forward and backward of sample b of the step for every lane, adding its gradient to the worker's.</summary>
    private void RunSample(Worker w, float[] x, int[] y, int[][] orders, int start, int b, int epoch)
    {
        Span<int> labels = stackalloc int[L];
        var input = w.Val[0];
        w.Sample = b;
        for (int k = 0; k < L; k++)
        {
            int row = Row(orders, k, start, b);
            labels[k] = y[row];
            var src = x.AsSpan(row * _inputSize, _inputSize);
            for (int i = 0; i < src.Length; i++) input[i * L + k] = src[i];
        }
        if (Dropout) SeedDropout(w.Dropout, epoch, start, b);
        foreach (var op in _ops) op.Forward(this, w, training: true);
        // d(mean CE)/dlogits = (softmax − onehot) / batch share; zero for a lane past its share (its gradient vanishes).
        int last = _size.Length - 1;
        var delta = w.DVal[last];
        Softmax(w.Val[last], delta, 1, _classes);
        var dv = V(delta);
        var lab = new Vector<int>(labels);
        var weight = SampleWeight(b);
        var inShare = Vector.GreaterThan(weight, Vector<float>.Zero);
        for (int c = 0; c < _classes; c++)
            dv[c] = Vector.ConditionalSelect(inShare,
                (dv[c] - Vector.ConditionalSelect(Vector.Equals(lab, new Vector<int>(c)), Vector<float>.One, Vector<float>.Zero)) * weight, Vector<float>.Zero);
        for (int i = _ops.Length - 1; i >= 0; i--) _ops[i].Backward(this, w);
    }

    /// <summary>
    /// Evaluation runs in chunks of <see cref="EvaluationChunk"/> rows, on several threads when the trainer has
    /// cores to spare (each with its own buffers); each chunk sums its losses and the chunks are added in order, so
    /// the result does not depend on the number of threads or on the other lanes.
    /// </summary>
    public override (float[] Accuracy, float[] Loss) Evaluate(float[] x, int[] y, int threads = 1, Vector<int>[]? rowLanes = null)
    {
        int chunks = (y.Length + EvaluationChunk - 1) / EvaluationChunk;
        var chunkLoss = new double[chunks * L];
        var chunkCorrect = new int[chunks * L];
        void Chunk(int chunk, Worker w) =>
            EvaluateRows(x, y, chunk * EvaluationChunk, Math.Min(y.Length, (chunk + 1) * EvaluationChunk), w,
                chunkLoss.AsSpan(chunk * L, L), chunkCorrect.AsSpan(chunk * L, L), rowLanes);
        int parallel = Math.Min(Math.Max(1, threads), _workers.Length);
        if (parallel == 1)
            for (int chunk = 0; chunk < chunks; chunk++) Chunk(chunk, _workers[0]);
        else
            Parallel.For(0, parallel, t => { for (int chunk = t; chunk < chunks; chunk += parallel) Chunk(chunk, _workers[t]); });
        long Correct(int k) { long c = 0; for (int chunk = 0; chunk < chunks; chunk++) c += chunkCorrect[chunk * L + k]; return c; }
        double Loss(int k) { double l = 0; for (int chunk = 0; chunk < chunks; chunk++) l += chunkLoss[chunk * L + k]; return l; }
        return Means(Correct, Loss, y.Length, rowLanes);
    }

    /// <summary>Rows [from, to) with every lane's weights: summed cross-entropy and correct predictions per lane.</summary>
    private void EvaluateRows(float[] x, int[] y, int from, int to, Worker w, Span<double> loss, Span<int> correct, Vector<int>[]? rowLanes)
    {
        var input = V(w.Val[0]);
        Span<float> scratch = stackalloc float[(_classes + 1) * L];
        var hits = Vector<int>.Zero;
        for (int r = from; r < to; r++)
        {
            for (int i = 0; i < _inputSize; i++) input[i] = new Vector<float>(x[r * _inputSize + i]);
            foreach (var op in _ops) op.Forward(this, w, training: false);
            Score(w.Val[^1], 1, _classes, y.AsSpan(r, 1), scratch, ref hits, loss, rowLanes is null ? default : rowLanes.AsSpan(r, 1));
        }
        for (int k = 0; k < L; k++) correct[k] = hits[k];
    }

    private abstract class Op
    {
        public int Index, In, Out;
        /// <summary>Scratch values per lane the op keeps between its forward and backward pass.</summary>
        public virtual int ScratchSize(LaneConvGroup g) => 0;
        /// <summary>Forward on the worker's buffers.</summary>
        public abstract void Forward(LaneConvGroup g, Worker w, bool training);
        /// <summary>From the gradient of Out, adds parameter gradients to the worker's and writes the gradient of In (unless In is the input).</summary>
        public abstract void Backward(LaneConvGroup g, Worker w);
    }

    /// <summary>Convolution without padding, square kernel, [O, C, K, K] weights (torch's order); kernels in <see cref="LaneConvKernels"/>.</summary>
    private sealed class ConvOp(int layer, int c, int h, int w, int o, int k, int stride, bool hasBias) : Op
    {
        private readonly LaneConvKernels.Shape _shape = new(c, h, w, o, k, stride);

        public override void Forward(LaneConvGroup g, Worker wk, bool training) =>
            LaneConvKernels.Forward(_shape, V(wk.Val[In]), g.LayerWeights(g.Params, layer), hasBias ? g.LayerBiases(g.Params, layer) : default, V(wk.Val[Out]));

        public override void Backward(LaneConvGroup g, Worker wk)
        {
            var dout = V(wk.DVal[Out]);
            if (hasBias)
            {
                var gb = g.LayerBiases(wk.Grad, layer);
                int plane = _shape.Plane;
                for (int oc = 0; oc < o; oc++)
                {
                    var sum = Vector<float>.Zero;
                    for (int j = 0; j < plane; j++) sum += dout[oc * plane + j];
                    gb[oc] += sum;
                }
            }
            LaneConvKernels.WeightGradient(_shape, V(wk.Val[In]), dout, g.LayerWeights(wk.Grad, layer));
            if (In != 0) LaneConvKernels.InputGradient(_shape, g.LayerWeights(g.Params, layer), dout, V(wk.DVal[In])); // no gradient for the images
        }
    }

    /// <summary>2×2 max-pool of stride 2 (odd edges dropped, as torch); remembers which of the four won, per lane.</summary>
    private sealed class PoolOp(int c, int h, int w) : Op
    {
        private readonly int _ph = h / 2, _pw = w / 2;

        public override int ScratchSize(LaneConvGroup g) => c * _ph * _pw;

        public override void Forward(LaneConvGroup g, Worker wk, bool training)
        {
            var input = V(wk.Val[In]);
            var output = V(wk.Val[Out]);
            var win = V(wk.Scratch[Index]);
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
                        win[at] = index;
                    }
        }

        public override void Backward(LaneConvGroup g, Worker wk)
        {
            var din = V(wk.DVal[In]);
            var dout = V(wk.DVal[Out]);
            var win = V(wk.Scratch[Index]);
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

    /// <summary>The activation, then inverted dropout while training. Scratch: the derivative (times the dropout mask).</summary>
    private sealed class ActOp : Op
    {
        public override int ScratchSize(LaneConvGroup g) => g._size[In];

        public override void Forward(LaneConvGroup g, Worker wk, bool training)
        {
            var output = wk.Val[Out];
            var derivative = wk.Scratch[Index];
            g.Activate(wk.Val[In], output, training ? derivative : default);
            if (training && g.Dropout)
            {
                var mask = wk.DVal[Out]; // free until the backward pass reaches this op
                g.DrawDropoutMask(V(mask), mask.Length / g.L, wk.Dropout, wk.Sample);
                TensorPrimitives.Multiply(output, mask, output);
                TensorPrimitives.Multiply(derivative, mask, derivative); // the mask scales the backward pass alike
            }
        }

        public override void Backward(LaneConvGroup g, Worker wk) =>
            TensorPrimitives.Multiply(wk.DVal[Out], wk.Scratch[Index], wk.DVal[In]);
    }

    /// <summary>Global average pooling over each channel's <paramref name="count"/> positions.</summary>
    private sealed class MeanOp(int c, int count) : Op
    {
        public override void Forward(LaneConvGroup g, Worker wk, bool training)
        {
            var input = V(wk.Val[In]); var output = V(wk.Val[Out]);
            var n = new Vector<float>(count);
            for (int ci = 0; ci < c; ci++)
            {
                var s = Vector<float>.Zero;
                for (int j = 0; j < count; j++) s += input[ci * count + j];
                output[ci] = s / n;
            }
        }

        public override void Backward(LaneConvGroup g, Worker wk)
        {
            var din = V(wk.DVal[In]); var dout = V(wk.DVal[Out]);
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
        public override void Forward(LaneConvGroup g, Worker wk, bool training)
        {
            var input = V(wk.Val[In]); var output = V(wk.Val[Out]);
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

        public override void Backward(LaneConvGroup g, Worker wk)
        {
            var input = V(wk.Val[In]); var dout = V(wk.DVal[Out]);
            var wt = g.LayerWeights(g.Params, layer);
            var gw = g.LayerWeights(wk.Grad, layer);
            if (hasBias)
            {
                var gb = g.LayerBiases(wk.Grad, layer);
                for (int o = 0; o < nout; o++) gb[o] += dout[o];
            }
            for (int o = 0; o < nout; o++)
            {
                var d = dout[o];
                var row = gw.Slice(o * nin, nin);
                for (int i = 0; i < nin; i++) row[i] = Vector.FusedMultiplyAdd(d, input[i], row[i]);
            }
            if (In == 0) return;
            var din = V(wk.DVal[In]);
            for (int i = 0; i < nin; i++)
            {
                var s = Vector<float>.Zero;
                for (int o = 0; o < nout; o++) s = Vector.FusedMultiplyAdd(wt[o * nin + i], dout[o], s);
                din[i] = s;
            }
        }
    }
}
