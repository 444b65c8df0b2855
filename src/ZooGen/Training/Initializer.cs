using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// Initial weight vectors, drawn in C# from the model's seed (so a model's initialisation does not depend on
/// torch's generator or on which population it trains in). Biases are 0.01 as in the Model Zoos code.
/// uniform = U(0, 1), normal = N(0, 1) (torch's nn.init defaults, as in the Model Zoos grid);
/// kaiming_* use gain √2 and fan_in; xavier_* use fan_in + fan_out.
/// </summary>
public static class Initializer
{
    /// <summary>The initial flat weight vector of a model.</summary>
    public static float[] Create(WeightLayout layout, Init init, long seed)
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
                    Init.Uniform => (float)rng.NextDouble(),
                    Init.Normal => (float)rng.NextGaussian(),
                    Init.KaimingUniform => (float)((rng.NextDouble() * 2 - 1) * Math.Sqrt(6.0 / fanIn)),
                    Init.KaimingNormal => (float)(rng.NextGaussian() * Math.Sqrt(2.0 / fanIn)),
                    Init.XavierUniform => (float)((rng.NextDouble() * 2 - 1) * Math.Sqrt(6.0 / (fanIn + fanOut))),
                    Init.XavierNormal => (float)(rng.NextGaussian() * Math.Sqrt(2.0 / (fanIn + fanOut))),
                    _ => throw new ArgumentOutOfRangeException(nameof(init), init, "not a defined Init"),
                };
            }
            w.AsSpan(layout.BiasOffset(l), spec.BiasCount).Fill(0.01f);
        }
        return w;
    }
}
