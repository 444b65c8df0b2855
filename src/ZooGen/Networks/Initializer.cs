using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Networks;

/// <summary>
/// Initial weight vectors, drawn in C# from the model's seed (so a model's initialisation does not depend on
/// torch's generator or on which population it trains in). Biases are 0.01 as in the Model Zoos code.
/// uniform = U(0, 1), normal = N(0, 1) (torch's nn.init defaults, as in the Model Zoos grid);
/// kaiming_* use gain √2 and fan_in; xavier_* use fan_in + fan_out.
/// </summary>
public static class Initializer
{
    /// <summary>The initial flat weight vector of a model.</summary>
    public static float[] Create(WeightLayout layout, string init, long seed)
    {
        var rng = Rng.For(seed, 0x1A17);
        var w = new float[layout.ParameterCount];
        for (int l = 0; l < layout.Layers.Count; l++)
        {
            var spec = layout.Layers[l];
            double fanIn = spec.FanIn, fanOut = spec.OutFeatures * spec.KernelHeight * spec.KernelWidth;
            var weights = w.AsSpan(layout.WeightOffset(l), spec.WeightCount);
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] = init switch
                {
                    "uniform" => (float)rng.NextDouble(),
                    "normal" => (float)rng.NextGaussian(),
                    "kaiming_uniform" => (float)((rng.NextDouble() * 2 - 1) * Math.Sqrt(6.0 / fanIn)),
                    "kaiming_normal" => (float)(rng.NextGaussian() * Math.Sqrt(2.0 / fanIn)),
                    "xavier_uniform" => (float)((rng.NextDouble() * 2 - 1) * Math.Sqrt(6.0 / (fanIn + fanOut))),
                    "xavier_normal" => (float)(rng.NextGaussian() * Math.Sqrt(2.0 / (fanIn + fanOut))),
                    _ => throw new ArgumentException($"init '{init}' is not one of {string.Join(", ", Training.ModelSpec.Inits)}."),
                };
            }
            w.AsSpan(layout.BiasOffset(l), spec.BiasCount).Fill(0.01f);
        }
        return w;
    }
}
