using System.Numerics;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using WeightSpace.MLNet.Internal;
using WeightSpace.MLNet.Layout;
using WeightSpace.ZooGen.Networks;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// Population training of MLPs with one model per SIMD lane: the parameters of <see cref="Lanes"/> models are
/// stored interleaved (parameter j of lane k at j·Lanes + k), so every multiply-add of the forward and backward
/// pass and every optimiser update is one vector instruction for all of them, and groups of models train on
/// all cores at once. Each model gathers its own mini-batch (its own seeded data order), so the arithmetic of
/// a model is the same whatever group, population or shard it trains in — bit for bit. The maths is that of
/// <see cref="PopulationTrainer"/> and torch: mean cross-entropy over the batch, Adam / SGD (momentum 0.9) /
/// RMSprop with weight decay added to the gradient, inverted dropout after hidden activations; a test
/// compares it with torch.optim. Used by zoogen for MLP zoos; the TorchSharp <see cref="PopulationTrainer"/>
/// stays as the reference (libtorch's batched matmul over thousands of tiny matrices is ~20× slower here,
/// docs/benchmarks.md).
/// </summary>
internal sealed class LanePopulationTrainer
{
    public static readonly int Lanes = Vector<float>.Count;
    private readonly WeightLayout _layout;
    private readonly IReadOnlyList<ModelSpec> _models;
    private readonly TrainingData _data;

    public LanePopulationTrainer(WeightLayout layout, IReadOnlyList<ModelSpec> models, TrainingData data)
    {
        if (!PopulationTrainer.Supports(layout)) throw new ArgumentException($"Lane training runs MLPs only; layout '{layout.Name}' has convolutions.");
        PopulationTrainer.CheckPopulation(models);
        _layout = layout;
        _models = models;
        _data = data;
    }

    /// <summary>Trains every model; checkpoints are reported per group of lanes (calls are serialised).</summary>
    public void Train(int epochs, ISet<int> checkpoints, Action<IReadOnlyList<Checkpoint>> onCheckpoint, CancellationToken cancel,
        Action<int>? onModelEpochs = null, int workers = 0)
    {
        var groups = _models.Chunk(Lanes).ToArray();
        var gate = new object();
        var trainX = _data.Split.Train.Pixels; var trainY = _data.Split.Train.Labels;
        var testX = _data.Split.Test.Pixels; var testY = _data.Split.Test.Labels;
        Parallel.ForEach(groups, new ParallelOptions { MaxDegreeOfParallelism = workers > 0 ? workers : Environment.ProcessorCount, CancellationToken = cancel }, group =>
        {
            var g = new Group(_layout, group, trainX.Length / trainY.Length);
            void Report(int epoch)
            {
                var (trAcc, trLoss) = g.Evaluate(trainX, trainY);
                var (teAcc, teLoss) = g.Evaluate(testX, testY);
                var list = new List<Checkpoint>(group.Length);
                for (int k = 0; k < group.Length; k++)
                    list.Add(new Checkpoint(group[k], epoch, g.Weights(k), trAcc[k], teAcc[k], trLoss[k], teLoss[k]));
                lock (gate) onCheckpoint(list);
            }
            if (checkpoints.Contains(0)) Report(0);
            var subsets = group.Select(m => TrainingData.Subset(m, trainY.Length)).ToArray();
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                var orders = group.Select((m, k) => TrainingData.EpochOrder(m, subsets[k], epoch)).ToArray();
                int n = orders[0].Length, bs = group[0].BatchSize;
                for (int start = 0; start < n; start += bs)
                {
                    cancel.ThrowIfCancellationRequested();
                    g.Step(trainX, trainY, orders, start, Math.Min(bs, n - start));
                }
                if (onModelEpochs is not null) lock (gate) onModelEpochs(group.Length);
                if (checkpoints.Contains(epoch)) Report(epoch);
            }
        });
    }

    /// <summary>The state of up to <see cref="Lanes"/> models, interleaved by lane.</summary>
    private sealed class Group
    {
        private readonly WeightLayout _layout;
        private readonly ModelSpec[] _models;
        private readonly int _L, _in0, _classes;
        private readonly int[] _in, _out, _wOff, _bOff, _section, _width;
        private readonly bool[] _hasBias;
        private readonly float[] _params, _grad, _m, _v;
        private readonly Vector<float> _lr, _wd, _keepScale, _dropP;
        private readonly bool _dropout;
        private readonly string _act, _opt;
        private readonly float[] _z, _h, _a, _delta, _mask; // pre-activation, activation, after dropout, gradient, dropout scale
        private readonly Rng[] _dropRng;
        private int _step;

        public Group(WeightLayout layout, ModelSpec[] models, int inputSize)
        {
            _layout = layout;
            _L = Lanes;
            // Pad a short group with copies of its first model (their results are dropped).
            _models = models;
            var lanes = Enumerable.Range(0, _L).Select(k => models[Math.Min(k, models.Length - 1)]).ToArray();
            int layers = layout.Layers.Count;
            _in = layout.Layers.Select(l => l.InFeatures).ToArray();
            _out = layout.Layers.Select(l => l.OutFeatures).ToArray();
            _hasBias = layout.Layers.Select(l => l.HasBias).ToArray();
            _in0 = _in[0];
            if (inputSize != _in0) throw new ArgumentException($"Inputs of {inputSize} values do not fit layer '{layout.Layers[0].Name}' ({_in0} inputs).");
            _classes = _out[^1];
            int maxBatch = models[0].BatchSize;
            _wOff = new int[layers]; _bOff = new int[layers]; _section = new int[layers + 1]; _width = new int[layers + 1];
            int p = 0, a = 0;
            for (int l = 0; l <= layers; l++)
            {
                if (l < layers)
                {
                    _wOff[l] = p; p += _in[l] * _out[l] * _L;
                    _bOff[l] = p; if (_hasBias[l]) p += _out[l] * _L;
                }
                // Activations are stored layer-major: section l holds [batch × width_l × lanes], so one call
                // applies an activation (or exp) to a whole layer of the batch.
                _width[l] = l == 0 ? _in0 : _out[l - 1];
                _section[l] = a; a += maxBatch * _width[l] * _L;
            }
            _params = new float[p]; _grad = new float[p]; _m = new float[p]; _v = new float[p];
            for (int k = 0; k < _L; k++)
            {
                var init = Initializer.Create(layout, lanes[k].Init, lanes[k].Seed);
                for (int l = 0; l < layers; l++)
                {
                    int count = _in[l] * _out[l];
                    for (int j = 0; j < count; j++) _params[_wOff[l] + j * _L + k] = init[layout.WeightOffset(l) + j];
                    if (_hasBias[l]) for (int o = 0; o < _out[l]; o++) _params[_bOff[l] + o * _L + k] = init[layout.BiasOffset(l) + o];
                }
            }
            _lr = new Vector<float>(lanes.Select(m => (float)m.LearningRate).ToArray());
            _wd = new Vector<float>(lanes.Select(m => (float)m.WeightDecay).ToArray());
            _dropP = new Vector<float>(lanes.Select(m => (float)m.Dropout).ToArray());
            _keepScale = new Vector<float>(lanes.Select(m => (float)(1 / (1 - m.Dropout))).ToArray());
            _dropout = lanes.Any(m => m.Dropout > 0);
            _dropRng = lanes.Select(m => Rng.For(m.Seed, 0xD209)).ToArray();
            _act = lanes[0].Activation;
            _opt = lanes[0].Optimizer;
            _z = new float[a];
            _h = new float[a];
            _a = new float[a];
            _delta = new float[a];
            _mask = new float[a];
        }

        private static Span<Vector<float>> V(Span<float> s) => MemoryMarshal.Cast<float, Vector<float>>(s);

        /// <summary>Activations of layer section <paramref name="l"/> for sample <paramref name="b"/>: [width × lanes].</summary>
        private Span<float> Slot(float[] buffer, int l, int b) => buffer.AsSpan(_section[l] + b * _width[l] * _L, _width[l] * _L);

        /// <summary>Section <paramref name="l"/> for the first <paramref name="bs"/> samples.</summary>
        private Span<float> Section(float[] buffer, int l, int bs) => buffer.AsSpan(_section[l], bs * _width[l] * _L);

        /// <summary>One optimiser step on samples orders[k][start..start+bs) of each lane k.</summary>
        public void Step(float[] x, int[] y, int[][] orders, int start, int bs)
        {
            int layers = _out.Length;
            Array.Clear(_grad);
            Span<int> rows = stackalloc int[_L];
            // Gather each lane's own samples.
            for (int b = 0; b < bs; b++)
            {
                var a0 = Slot(_a, 0, b);
                for (int k = 0; k < _L; k++)
                {
                    int row = orders[Math.Min(k, orders.Length - 1)][start + b];
                    for (int i = 0; i < _in0; i++) a0[i * _L + k] = x[row * _in0 + i];
                }
            }
            for (int l = 0; l < layers; l++) ForwardLayer(l, bs, training: true);
            // d(mean CE)/dlogits = (softmax − onehot) / bs, all lanes and samples at once.
            Softmax(Section(_z, layers, bs), Section(_delta, layers, bs), bs);
            var invBatch = new Vector<float>(1f / bs);
            for (int b = 0; b < bs; b++)
            {
                for (int k = 0; k < _L; k++) rows[k] = y[orders[Math.Min(k, orders.Length - 1)][start + b]];
                var labels = new Vector<int>(rows);
                var dv = V(Slot(_delta, layers, b));
                for (int c = 0; c < _classes; c++)
                    dv[c] = (dv[c] - Vector.ConditionalSelect(Vector.Equals(labels, new Vector<int>(c)), Vector<float>.One, Vector<float>.Zero)) * invBatch;
            }
            for (int b = 0; b < bs; b++) Backward(b);
            Update();
        }

        /// <summary>Softmax over classes for every lane and sample: logits [samples × classes × lanes] → probabilities.</summary>
        private void Softmax(Span<float> logits, Span<float> probabilities, int samples)
        {
            var lv = V(logits);
            var pv = V(probabilities);
            for (int b = 0; b < samples; b++)
            {
                var max = lv[b * _classes];
                for (int c = 1; c < _classes; c++) max = Vector.Max(max, lv[b * _classes + c]);
                for (int c = 0; c < _classes; c++) pv[b * _classes + c] = lv[b * _classes + c] - max;
            }
            TensorPrimitives.Exp(probabilities, probabilities);
            for (int b = 0; b < samples; b++)
            {
                var sum = Vector<float>.Zero;
                for (int c = 0; c < _classes; c++) sum += pv[b * _classes + c];
                var inv = Vector<float>.One / sum;
                for (int c = 0; c < _classes; c++) pv[b * _classes + c] *= inv;
            }
        }

        /// <summary>Layer l for the first bs samples: pre-activations, activation (one call for the batch), dropout.</summary>
        private void ForwardLayer(int l, int bs, bool training)
        {
            int nin = _in[l], nout = _out[l];
            var w = V(_params.AsSpan(_wOff[l], nin * nout * _L));
            var bias = _hasBias[l] ? V(_params.AsSpan(_bOff[l], nout * _L)) : default;
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
            var preSection = Section(_z, l + 1, bs);
            var actSection = Section(_h, l + 1, bs);
            Activate(preSection, actSection);
            var outSection = Section(_a, l + 1, bs);
            if (!(training && _dropout)) { actSection.CopyTo(outSection); return; }
            var m = V(Section(_mask, l + 1, bs));
            var act = V(actSection);
            var output = V(outSection);
            Span<float> keep = stackalloc float[_L];
            for (int j = 0; j < m.Length; j++)
            {
                for (int k = 0; k < _L; k++) keep[k] = _dropRng[k].NextDouble() >= _dropP[k] ? 1f : 0f;
                m[j] = new Vector<float>(keep) * _keepScale;
                output[j] = act[j] * m[j];
            }
        }

        /// <summary>The activation over a whole layer (vectorised where the runtime has it).</summary>
        private void Activate(ReadOnlySpan<float> pre, Span<float> act)
        {
            switch (_act)
            {
                case "tanh": TensorPrimitives.Tanh(pre, act); break;
                case "sigmoid": TensorPrimitives.Sigmoid(pre, act); break;
                case "relu": TensorPrimitives.Max(pre, 0f, act); break;
                case "gelu":
                    for (int i = 0; i < pre.Length; i++) act[i] = (float)(0.5 * pre[i] * (1 + Erf(pre[i] / Math.Sqrt(2))));
                    break;
                default: throw new ArgumentException($"activation '{_act}' is not one of {string.Join(", ", ModelSpec.Activations)}.");
            }
        }

        /// <summary>d act / d pre-activation for one unit of every lane, from its pre-activation z and activation h.</summary>
        private Vector<float> Derivative(Vector<float> z, Vector<float> h)
        {
            switch (_act)
            {
                case "tanh": return Vector<float>.One - h * h;
                case "sigmoid": return h * (Vector<float>.One - h);
                case "relu": return Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero);
                default:
                {
                    Span<float> t = stackalloc float[_L];
                    z.CopyTo(t);
                    for (int k = 0; k < _L; k++)
                        t[k] = (float)(0.5 * (1 + Erf(t[k] / Math.Sqrt(2))) + t[k] * Math.Exp(-0.5 * t[k] * t[k]) / Math.Sqrt(2 * Math.PI));
                    return new Vector<float>(t);
                }
            }
        }

        private void Backward(int b)
        {
            for (int l = _out.Length - 1; l >= 0; l--)
            {
                int nin = _in[l], nout = _out[l];
                var delta = V(Slot(_delta, l + 1, b));
                var input = V(Slot(_a, l, b));
                var gw = V(_grad.AsSpan(_wOff[l], nin * nout * _L));
                var w = V(_params.AsSpan(_wOff[l], nin * nout * _L));
                if (_hasBias[l])
                {
                    var gb = V(_grad.AsSpan(_bOff[l], nout * _L));
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
                    if (_dropout) s *= prevMask[i];
                    prevDelta[i] = s * Derivative(prevZ[i], prevH[i]);
                }
            }
        }

        private void Update()
        {
            _step++;
            var p = V(_params); var g = V(_grad); var m = V(_m); var v = V(_v);
            // Lanes are models: the lr and weight-decay vectors apply to every parameter vector alike.
            switch (_opt)
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
                default: throw new ArgumentException($"optimizer '{_opt}' is not one of {string.Join(", ", ModelSpec.Optimizers)}.");
            }
        }

        /// <summary>
        /// Accuracy and mean cross-entropy of every real lane on a data set. Rows are evaluated in blocks, layer
        /// by layer, so the activation, exp and log run over whole blocks (losses summed in float64 per block).
        /// </summary>
        public (float[] Accuracy, float[] Loss) Evaluate(float[] x, int[] y)
        {
            const int Block = 128;
            int layers = _out.Length, maxWidth = Math.Max(_in0, _out.Max());
            var cur = new float[Block * maxWidth * _L];
            var next = new float[Block * maxWidth * _L];
            var lse = new float[Block * _L];
            var correct = Vector<int>.Zero;
            var loss = new double[_L];
            for (int start = 0; start < y.Length; start += Block)
            {
                int rows = Math.Min(Block, y.Length - start);
                // cur[r][i] = broadcast input i of row r to all lanes.
                var cv = V(cur.AsSpan(0, rows * _in0 * _L));
                for (int r = 0; r < rows; r++)
                    for (int i = 0; i < _in0; i++) cv[r * _in0 + i] = new Vector<float>(x[(start + r) * _in0 + i]);
                for (int l = 0; l < layers; l++)
                {
                    int nin = _in[l], nout = _out[l];
                    var input = V(cur.AsSpan(0, rows * nin * _L));
                    var output = V(next.AsSpan(0, rows * nout * _L));
                    var w = V(_params.AsSpan(_wOff[l], nin * nout * _L));
                    var bias = _hasBias[l] ? V(_params.AsSpan(_bOff[l], nout * _L)) : default;
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
                    if (l < layers - 1) Activate(next.AsSpan(0, rows * nout * _L), next.AsSpan(0, rows * nout * _L));
                    (cur, next) = (next, cur);
                }
                // cur holds logits [rows × classes × lanes]: argmax (first maximum, as torch) and log-sum-exp.
                var logits = V(cur.AsSpan(0, rows * _classes * _L));
                var maxes = V(lse.AsSpan(0, rows * _L));
                for (int r = 0; r < rows; r++)
                {
                    var max = logits[r * _classes];
                    var best = Vector<int>.Zero;
                    for (int c = 1; c < _classes; c++)
                    {
                        var greater = Vector.GreaterThan(logits[r * _classes + c], max);
                        max = Vector.ConditionalSelect(greater, logits[r * _classes + c], max);
                        best = Vector.ConditionalSelect(greater, new Vector<int>(c), best);
                    }
                    maxes[r] = max;
                    correct -= Vector.Equals(best, new Vector<int>(y[start + r])); // matching lanes are −1
                    for (int c = 0; c < _classes; c++) logits[r * _classes + c] -= max;
                }
                TensorPrimitives.Exp(cur.AsSpan(0, rows * _classes * _L), next.AsSpan(0, rows * _classes * _L));
                var exps = V(next.AsSpan(0, rows * _classes * _L));
                var sums = V(next.AsSpan(rows * _classes * _L, rows * _L));
                for (int r = 0; r < rows; r++)
                {
                    var sum = Vector<float>.Zero;
                    for (int c = 0; c < _classes; c++) sum += exps[r * _classes + c];
                    sums[r] = sum;
                }
                TensorPrimitives.Log(next.AsSpan(rows * _classes * _L, rows * _L), next.AsSpan(rows * _classes * _L, rows * _L));
                var blockLoss = Vector<float>.Zero;
                for (int r = 0; r < rows; r++) blockLoss += sums[r] - logits[r * _classes + y[start + r]]; // log Σexp(z−max) − (z_y − max)
                for (int k = 0; k < _L; k++) loss[k] += blockLoss[k];
            }
            int real = _models.Length;
            return (Enumerable.Range(0, real).Select(k => (float)((double)correct[k] / y.Length)).ToArray(),
                loss.Take(real).Select(v => (float)(v / y.Length)).ToArray());
        }

        /// <summary>The flat weight vector (layout order) of lane k.</summary>
        public float[] Weights(int k)
        {
            var w = new float[_layout.ParameterCount];
            for (int l = 0; l < _out.Length; l++)
            {
                int count = _in[l] * _out[l];
                for (int j = 0; j < count; j++) w[_layout.WeightOffset(l) + j] = _params[_wOff[l] + j * _L + k];
                if (_hasBias[l]) for (int o = 0; o < _out[l]; o++) w[_layout.BiasOffset(l) + o] = _params[_bOff[l] + o * _L + k];
            }
            return w;
        }

        // erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), enough for float32 GELU.
        private static double Erf(double x)
        {
            double t = 1.0 / (1.0 + 0.5 * Math.Abs(x));
            double ans = t * Math.Exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
                t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
            return x >= 0 ? 1 - ans : ans - 1;
        }
    }
}
