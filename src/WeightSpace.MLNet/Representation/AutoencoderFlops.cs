
namespace WeightSpace.MLNet;

/// <summary>
/// Multiply-add count of one forward pass of an autoencoder for one weight vector (matrix products only; norms, softmax and
/// element-wise ops are not counted). FLOPs = 2 × MACs; a training step costs about 3 × forward (forward + backward).
/// </summary>
public static class AutoencoderFlops
{
    /// <summary>Forward FLOPs of the encoder (to the latent) and of the decoder, per row.</summary>
    public static (double Encoder, double Decoder) Forward(WeightLayout layout, WeightEmbeddingOptions o)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(o);
        if (o.Kind == AutoencoderKind.FullyConnected)
        {
            double p = layout.ParameterCount, macs = 0;
            for (int i = 0; i <= 10; i++)
            {
                double a = p + (o.LatentDim - p) * i / 11.0, b = p + (o.LatentDim - p) * (i + 1) / 11.0;
                macs += a * b;
            }
            return (2 * macs, 2 * macs);
        }
        var tokenizer = new WeightTokenizer(layout, o.Encoding);
        double d = o.ModelDim, t = tokenizer.TokenCount, te = t + (o.CompressionToken ? 1 : 0);
        double embed = tokenizer.Groups.Sum(g => (double)g.Count * g.Size * d);
        double statistics = o.TokenStatistics ? t * TokenEmbedding.StatisticsPerToken * d : 0; // the encoder's three extra inputs per token
        double Block(double n) => n * (3 * d * d + d * d + 2 * d * o.FeedForwardDim) + 2 * n * n * d; // QKV, out, FF; QKᵀ and AV
        double encoder = embed + statistics + o.Blocks * Block(te) + (o.CompressionToken ? d : t * d) * o.LatentDim;
        double decoder = o.LatentDim * d * t + o.Blocks * Block(t) + embed;
        return (2 * encoder, 2 * decoder);
    }
}
