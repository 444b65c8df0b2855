using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Bench;

/// <summary>Where a training step's time goes: forward, backward and optimiser step timed apart, for variants of the model.</summary>
internal static class EmbedProfile
{
    public static void Run()
    {
        var layout = WeightLayout.TetrisMlp100;
        set_num_threads(Environment.ProcessorCount);
        foreach (var (name, o) in new (string, WeightEmbeddingOptions)[]
        {
            ("nodrop b500", WeightEmbeddingOptions.CpuDefault with { Dropout = 0 }),
            ("nodrop b250", WeightEmbeddingOptions.CpuDefault with { Dropout = 0, BatchSize = 250 }),
            ("nodrop b125", WeightEmbeddingOptions.CpuDefault with { Dropout = 0, BatchSize = 125 }),
            ("nodrop d128", WeightEmbeddingOptions.CpuDefault with { Dropout = 0, ModelDim = 128, FeedForwardDim = 256 }),
            ("nodrop h1", WeightEmbeddingOptions.CpuDefault with { Dropout = 0, Heads = 1 }),
            ("nodrop blk1", WeightEmbeddingOptions.CpuDefault with { Dropout = 0, Blocks = 1 }),
        })
        {
            random.manual_seed(1);
            using var model = WeightAutoencoder.Create(layout, o);
            using var head = new ProjectionHead(o.LatentDim, o.ProjectionHead);
            using var opt = new AdamW(model.parameters().Concat(head.parameters()), 0);
            using var invT = 10.0.ToScalar();
            int b = o.BatchFor(100_000);
            var x = randn(2 * b, layout.ParameterCount);
            double fwd = 0, bwd = 0, step = 0;
            int n = 0;
            var sw = new Stopwatch();
            for (int i = 0; i < 12; i++)
            {
                using var scope = NewDisposeScope();
                sw.Restart();
                var z = model.Encode(x);
                var loss = nn.functional.mse_loss(model.Decode(z), x).add(ContrastiveLosses.NtXent(head.call(z).narrow(0, 0, b), head.call(z).narrow(0, b, b), invT));
                double t1 = sw.Elapsed.TotalMilliseconds;
                opt.ZeroGrad();
                loss.backward();
                double t2 = sw.Elapsed.TotalMilliseconds;
                opt.Step(1e-3);
                double t3 = sw.Elapsed.TotalMilliseconds;
                if (i < 2) continue;
                fwd += t1; bwd += t2 - t1; step += t3 - t2; n++;
            }
            var (enc, dec) = AutoencoderFlops.Forward(layout, o);
            double total = (fwd + bwd + step) / n;
            Console.WriteLine($"{name,-12} forward {fwd / n,6:F1} ms  backward {bwd / n,6:F1} ms  step {step / n,5:F1} ms  = {total,6:F1} ms/step, " +
                              $"{2 * b / total * 1000,7:N0} samples/s, {2 * b * 3 * (enc + dec) / total / 1e6,5:F1} GFLOP/s");
        }
    }
}
