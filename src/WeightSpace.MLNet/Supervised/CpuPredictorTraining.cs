using TorchSharp;

namespace WeightSpace.MLNet;

/// <summary>
/// Trains a <see cref="PredictorNetwork"/>'s encoder and head in C# (their copy in <see cref="FlatParameters"/>): per step the
/// encoder forward, head = Linear → ReLU → Linear over [latent ‖ statistics], the loss (mean squared error, or cross-entropy
/// over categories), and back, in slots over the cores; AdamW on the flat parameters (the decoder's are not trained). The
/// same loss and updates as the libtorch loop it replaces (CpuPredictorTrainingTests check the gradients against autograd).
/// </summary>
internal sealed unsafe class CpuPredictorTraining
{
    private readonly torch.nn.Module _network;
    private readonly FlatParameters _parameters;
    private readonly CpuEncoder _encoder;
    private readonly CpuLinear _hidden, _output;
    private readonly SlotRunner<Workspace> _slots;
    private readonly FlatAdamW _adam;
    private readonly float[] _gradient;
    private readonly Pinned _input, _statistics, _targets;
    private readonly int _p, _s, _l, _k, _outputs;
    private readonly bool _classifier;

    private sealed class Workspace(CpuPredictorTraining t, int rows)
    {
        public readonly CpuEncoder.Tape Encoder = new(t._encoder, rows);
        public readonly BackwardScratch Scratch = new(rows, t._encoder, null, t._encoderOptions.ModelDim);
        public readonly Pinned Input = new((long)Pad.Rows(rows) * Pad.Width(t._k)), DInput = new((long)Pad.Rows(rows) * Pad.Width(t._k));
        public readonly Pinned Hidden = new((long)Pad.Rows(rows) * t._hidden.OutPadded), DHidden = new((long)Pad.Rows(rows) * t._hidden.OutPadded);
        public readonly Pinned Output = new((long)Pad.Rows(rows) * t._output.OutPadded), DOutput = new((long)Pad.Rows(rows) * t._output.OutPadded);
        public readonly Pinned DLatent = new((long)Pad.Rows(rows) * t._encoder.LatentStride);
        public double Loss;
    }

    private readonly WeightEmbeddingOptions _encoderOptions;

    /// <param name="network">The predictor's network: its autoencoder's parameters under "autoencoder.", its head's under "head.".</param>
    /// <param name="model">The autoencoder inside it.</param>
    /// <param name="statistics">Values of s(W) next to the latent (0 for none).</param>
    /// <param name="outputs">1 for a number, the categories for a classifier.</param>
    /// <param name="classifier">Cross-entropy over <paramref name="outputs"/> categories instead of the squared error of one number.</param>
    /// <param name="hiddenWidth">The head's hidden width.</param>
    /// <param name="maxRows">Rows per step.</param>
    /// <param name="weightDecay">AdamW's decoupled weight decay.</param>
    /// <param name="threads">Cores to use.</param>
    public CpuPredictorTraining(torch.nn.Module network, TransformerAutoencoder model, int statistics, int outputs, bool classifier, int hiddenWidth, int maxRows,
        double weightDecay, int threads)
    {
        _network = network;
        _encoderOptions = model.Options;
        _p = model.Tokenizer.Layout.ParameterCount;
        _s = statistics;
        _outputs = outputs;
        _classifier = classifier;
        _parameters = new FlatParameters(network);
        var gradients = new GradientLayout();
        const string prefix = "autoencoder.";
        _encoder = new CpuEncoder(_parameters, prefix, gradients, model.Tokenizer, model.Options);
        _l = _encoder.LatentDim;
        _k = _l + statistics;
        _hidden = new CpuLinear(_parameters, "head.0", gradients, _k, hiddenWidth);
        _output = new CpuLinear(_parameters, "head.2", gradients, hiddenWidth, outputs);
        _slots = new SlotRunner<Workspace>(maxRows, gradients, rows => new Workspace(this, rows), threads);
        var trained = _parameters.Names.Where(n => !TransformerAutoencoder.IsDecoderPart(n, prefix)).Select(n => _parameters[n]);
        _adam = new FlatAdamW(_parameters.Values.Length, trained, weightDecay);
        _gradient = new float[_parameters.Values.Length];
        _input = new Pinned((long)maxRows * _p);
        _statistics = new Pinned((long)maxRows * Math.Max(1, statistics));
        _targets = new Pinned(maxRows);
    }

    /// <summary>Whether the network's encoder trains in C#: a transformer without dropout.</summary>
    public static bool Supports(WeightAutoencoder model) => CpuKernels.Enabled && model is TransformerAutoencoder t && t.Options.Dropout == 0;

    /// <summary>
    /// The mean loss of a batch (normalised weights, standardised statistics, targets: standardised numbers or category
    /// indices) and the gradient of the flat parameters.
    /// </summary>
    public double Backward(ReadOnlySpan<float> weights, ReadOnlySpan<float> statistics, ReadOnlySpan<float> targets, int batch)
    {
        weights.CopyTo(_input.Span);
        statistics.CopyTo(_statistics.Span);
        targets.CopyTo(_targets.Span);
        float* x = _input.P, st = _statistics.P, y = _targets.P;
        int p = _p, s = _s, l = _l, ks = Pad.Width(_k), ls = _encoder.LatentStride, hs = _hidden.OutPadded, os = _output.OutPadded, outputs = _outputs;
        float inverseBatch = 1f / batch;
        var values = _parameters.Values;
        var used = _slots.Run(batch, clear: true, (w, arena, first, n) =>
        {
            _encoder.Forward(x + (long)first * p, n, w.Encoder, values);
            float* z = w.Encoder.Latent.P, input = w.Input.P;
            for (int r = 0; r < n; r++)
            {
                Ops.Copy(z + r * ls, input + r * ks, l);
                if (s > 0) Ops.Copy(st + (long)(first + r) * s, input + r * ks + l, s);
            }
            _hidden.Forward(input, ks, n, w.Hidden.P, hs, LinearOutput.Relu);
            _output.Forward(w.Hidden.P, hs, n, w.Output.P, os, LinearOutput.Store);
            double loss = 0;
            float* o = w.Output.P, dOut = w.DOutput.P;
            for (int r = 0; r < n; r++)
            {
                float* row = o + r * os, d = dOut + r * os;
                float target = y[first + r];
                if (!_classifier)
                {
                    float e = row[0] - target;
                    loss += (double)e * e;
                    d[0] = 2 * e * inverseBatch;
                    continue;
                }
                float largest = row[0];
                for (int c = 1; c < outputs; c++) largest = MathF.Max(largest, row[c]);
                double total = 0;
                for (int c = 0; c < outputs; c++) total += Math.Exp(row[c] - largest);
                int label = (int)target;
                loss += Math.Log(total) - (row[label] - largest);
                for (int c = 0; c < outputs; c++) d[c] = (float)(Math.Exp(row[c] - largest) / total) * inverseBatch - (c == label ? inverseBatch : 0);
            }
            w.Loss = loss;
            _output.Backward(w.Hidden.P, hs, dOut, os, n, w.DHidden.P, hs, LinearOutput.Store, arena.P);
            Ops.ZeroWhereNotPositive(w.DHidden.P, w.Hidden.P, n * hs);
            _hidden.Backward(input, ks, w.DHidden.P, hs, n, w.DInput.P, ks, LinearOutput.Store, arena.P);
            for (int r = 0; r < n; r++) Ops.Copy(w.DInput.P + r * ks, w.DLatent.P + r * ls, l);
            _encoder.Backward(w.DLatent.P, n, w.Encoder, values, arena.P, w.Scratch);
        });
        _slots.Reduce(used, _gradient);
        return used.Sum(slot => _slots[slot].Loss) / batch;
    }

    /// <summary>The gradient of the flat parameters from the last <see cref="Backward"/>.</summary>
    public ReadOnlySpan<float> Gradient => _gradient;

    /// <summary>The parameter names in the flat order, and their values.</summary>
    public FlatParameters Parameters => _parameters;

    /// <summary>One AdamW step with the last gradient, then the layers repacked.</summary>
    public void Step(double learningRate)
    {
        _adam.Step(_parameters.Values.Span, _gradient, learningRate);
        foreach (var linear in _encoder.Linears.Append(_hidden).Append(_output)) linear.Refresh(_parameters.Values);
    }

    /// <summary>Writes the trained parameters into the network (before validation or a snapshot of the best state).</summary>
    public void CopyToModel() => _parameters.CopyTo(_network);
}
