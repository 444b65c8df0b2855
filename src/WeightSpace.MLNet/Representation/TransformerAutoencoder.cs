using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static WeightSpace.MLNet.TorchScalars;

namespace WeightSpace.MLNet;

// The transformer autoencoder of METHOD §5, one small class per idea, each forward reading like the equations.
// Shapes: B rows, T tokens, d = ModelDim, P parameters, L = LatentDim.

/// <summary>Multi-head self-attention with one fused QKV projection; dropout on the attention probabilities.</summary>
internal sealed class SelfAttention : Module<Tensor, Tensor>
{
    private readonly Linear qkv, proj;
    private readonly int _heads;
    private readonly double _dropout;

    public SelfAttention(int d, int heads, double dropout) : base(nameof(SelfAttention))
    {
        qkv = Linear(d, 3 * d);
        proj = Linear(d, d);
        _heads = heads;
        _dropout = dropout;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        var qkvHeads = qkv.call(x).view(b, t, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4); // [3, B, h, T, d/h]
        var y = functional.scaled_dot_product_attention(qkvHeads[0], qkvHeads[1], qkvHeads[2], null, training ? _dropout : 0, false);
        return proj.call(y.transpose(1, 2).reshape(b, t, d));
    }
}

/// <summary>FF = Linear → ReLU → Dropout → Linear.</summary>
internal sealed class FeedForward : Module<Tensor, Tensor>
{
    private readonly Linear up, down;
    private readonly Dropout drop;

    public FeedForward(int d, int hidden, double dropout) : base(nameof(FeedForward))
    {
        up = Linear(d, hidden);
        down = Linear(hidden, d);
        drop = Dropout(dropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => down.call(drop.call(functional.relu(up.call(x))));
}

/// <summary>A pre-norm block: x + Drop(MHA(Norm(x))), then x + Drop(FF(Norm(x))). Norm = LayerNorm (docs/design.md).</summary>
internal sealed class Block : Module<Tensor, Tensor>
{
    private readonly LayerNorm norm1, norm2;
    private readonly SelfAttention attention;
    private readonly FeedForward feedForward;
    private readonly Dropout drop;

    public Block(int d, int heads, int hidden, double dropout) : base(nameof(Block))
    {
        norm1 = LayerNorm(d);
        attention = new SelfAttention(d, heads, dropout);
        norm2 = LayerNorm(d);
        feedForward = new FeedForward(d, hidden, dropout);
        drop = Dropout(dropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        x = x.add(drop.call(attention.call(norm1.call(x))), One);
        return x.add(drop.call(feedForward.call(norm2.call(x))), One);
    }
}

/// <summary>N blocks in sequence.</summary>
internal sealed class BlockStack : Module<Tensor, Tensor>
{
    private readonly ModuleList<Block> blocks = new();

    public BlockStack(WeightEmbeddingOptions o) : base(nameof(BlockStack))
    {
        for (int i = 0; i < o.Blocks; i++) blocks.Add(new Block(o.ModelDim, o.Heads, o.FeedForwardDim, o.Dropout));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        foreach (var block in blocks) x = block.call(x);
        return x;
    }
}

/// <summary>Flat weights [B, P] → token embeddings [B, T, d]: each group's tokens gathered and embedded by its own Linear(k → d).</summary>
internal sealed class TokenEmbedding : Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> embed = new();
    private readonly Tensor[] _indices;
    private readonly (int Count, int Size)[] _shapes;

    private readonly bool _statistics;
    private static readonly long[] LastDim = { -1 };

    /// <summary>Values appended to each token with <see cref="WeightEmbeddingOptions.TokenStatistics"/>: mean, log mean square, log max |w|.</summary>
    public const int StatisticsPerToken = 3;

    public TokenEmbedding(WeightTokenizer tokenizer, int d, bool statistics) : base(nameof(TokenEmbedding))
    {
        _indices = tokenizer.Groups.Select(g => tensor(g.Indices.Select(i => (long)i).ToArray())).ToArray();
        _shapes = tokenizer.Groups.Select(g => (g.Count, g.Size)).ToArray();
        _statistics = statistics;
        foreach (var g in tokenizer.Groups) embed.Add(Linear(g.Size + (statistics ? StatisticsPerToken : 0), d));
        RegisterComponents();
    }

    public override Tensor forward(Tensor weights)
    {
        long b = weights.shape[0];
        var groups = new Tensor[_shapes.Length];
        for (int g = 0; g < groups.Length; g++)
        {
            var token = weights.index_select(1, _indices[g]).view(b, _shapes[g].Count, _shapes[g].Size);
            if (_statistics)
            {
                // The token's scale and extremes as inputs of their own: after the blocks' LayerNorm a linear embedding
                // carries a token's norm only relative to its positional embedding (docs/results.md).
                var mean = token.mean(LastDim, keepdim: true);
                var logMeanSquare = token.mul(token).mean(LastDim, keepdim: true).add(Tiny, One).log();
                var logMaxAbs = token.abs().amax(LastDim, keepdim: true).add(Tiny, One).log();
                token = cat(new[] { token, mean, logMeanSquare, logMaxAbs }, 2);
            }
            groups[g] = embed[g].call(token);
        }
        return groups.Length == 1 ? groups[0] : cat(groups, 1);
    }
}

/// <summary>Token outputs [B, T, d] → flat weights [B, P]: each group's Linear(d → k), then every value back to its place in the layout.</summary>
internal sealed class TokenReadout : Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> readout = new();
    private readonly Tensor _scatter;
    private readonly (int Count, int Size)[] _shapes;

    public TokenReadout(WeightTokenizer tokenizer, int d) : base(nameof(TokenReadout))
    {
        _scatter = tensor(tokenizer.ScatterOrder.Select(i => (long)i).ToArray());
        _shapes = tokenizer.Groups.Select(g => (g.Count, g.Size)).ToArray();
        foreach (var g in tokenizer.Groups) readout.Add(Linear(d, g.Size));
        RegisterComponents();
    }

    public override Tensor forward(Tensor tokens)
    {
        long b = tokens.shape[0];
        var groups = new Tensor[_shapes.Length];
        long start = 0;
        for (int g = 0; g < groups.Length; g++)
        {
            var (count, size) = _shapes[g];
            groups[g] = readout[g].call(tokens.narrow(1, start, count)).reshape(b, count * size);
            start += count;
        }
        var tokenOrder = groups.Length == 1 ? groups[0] : cat(groups, 1);
        return tokenOrder.index_select(1, _scatter);
    }
}

/// <summary>An autoencoder over flat weight vectors: <see cref="Encode"/> gives the tanh-bounded latent, <see cref="Decode"/> the weights.</summary>
internal abstract class WeightAutoencoder : Module<Tensor, Tensor>
{
    protected WeightAutoencoder(string name) : base(name) { }

    /// <summary>[B, P] → [B, L] in (−1, 1).</summary>
    public abstract Tensor Encode(Tensor weights);

    /// <summary>[B, L] → [B, P].</summary>
    public abstract Tensor Decode(Tensor latent);

    public override Tensor forward(Tensor weights) => Decode(Encode(weights));

    public static WeightAutoencoder Create(WeightLayout layout, WeightEmbeddingOptions o) => o.Kind == AutoencoderKind.FullyConnected
        ? new FullyConnectedAutoencoder(layout.ParameterCount, o)
        : new TransformerAutoencoder(new WeightTokenizer(layout, o.Encoding), o);
}

/// <summary>
/// Encoder: tokens embedded, a learned compression token prepended, a learned positional embedding added, N blocks,
/// then latent = tanh(Linear(x[:, 0])) — or, without the compression token, tanh(Linear(flattened sequence)).
/// Decoder: Linear(latent → d·T), its own positional embedding, N blocks, per-group Linear(d → k) back to the layout.
/// </summary>
internal sealed class TransformerAutoencoder : WeightAutoencoder
{
    private readonly TokenEmbedding tokens;
    private readonly Parameter? compression;
    private readonly Parameter encoderPositions, decoderPositions;
    private readonly BlockStack encoder, decoder;
    private readonly Linear toLatent, fromLatent;
    private readonly TokenReadout readout;
    private readonly int _tokens, _d;

    /// <summary>Whether a parameter name (after <paramref name="prefix"/>, the module's name inside another) belongs to the decoder.</summary>
    public static bool IsDecoderPart(string name, string prefix = "") => DecoderParts.Any(d => name.StartsWith(prefix + d, StringComparison.Ordinal));

    private static readonly string[] DecoderParts = { nameof(fromLatent), nameof(decoderPositions), nameof(decoder) + ".", nameof(readout) + "." };

    /// <summary>How the weights are cut into tokens.</summary>
    public WeightTokenizer Tokenizer { get; }
    /// <summary>The options it was built with (its architecture).</summary>
    public WeightEmbeddingOptions Options { get; }

    public TransformerAutoencoder(WeightTokenizer tokenizer, WeightEmbeddingOptions o) : base(nameof(TransformerAutoencoder))
    {
        Tokenizer = tokenizer;
        Options = o;
        _tokens = tokenizer.TokenCount;
        _d = o.ModelDim;
        int encoderLength = _tokens + (o.CompressionToken ? 1 : 0);
        tokens = new TokenEmbedding(tokenizer, _d, o.TokenStatistics);
        // R21: compression token randn(1, 1, d); positional embeddings are nn.Embedding tables (N(0, 1) initialised).
        if (o.CompressionToken) compression = Parameter(randn(1, 1, _d));
        encoderPositions = Parameter(randn(1, encoderLength, _d));
        encoder = new BlockStack(o);
        toLatent = Linear(o.CompressionToken ? _d : (long)_d * _tokens, o.LatentDim);
        fromLatent = Linear(o.LatentDim, (long)_d * _tokens);
        decoderPositions = Parameter(randn(1, _tokens, _d));
        decoder = new BlockStack(o);
        readout = new TokenReadout(tokenizer, _d);
        RegisterComponents();
    }

    public override Tensor Encode(Tensor weights)
    {
        var x = tokens.call(weights);                                       // [B, T, d]
        long b = x.shape[0];
        if (compression is not null) x = cat(new[] { compression.expand(b, 1, _d), x }, 1);
        x = encoder.call(x.add(encoderPositions, One));
        var summary = compression is not null ? x.select(1, 0) : x.reshape(b, -1);
        return tanh(toLatent.call(summary));
    }

    public override Tensor Decode(Tensor latent)
    {
        var x = fromLatent.call(latent).view(latent.shape[0], _tokens, _d);
        return readout.call(decoder.call(x.add(decoderPositions, One)));
    }
}

/// <summary>The FC baseline: 10 hidden layers whose widths fall linearly from P to the latent, LeakyReLU + Dropout each, tanh latent; mirrored decoder.</summary>
internal sealed class FullyConnectedAutoencoder : WeightAutoencoder
{
    private const int HiddenLayers = 10;
    private readonly Sequential encoder, decoder;

    public FullyConnectedAutoencoder(int parameters, WeightEmbeddingOptions o) : base(nameof(FullyConnectedAutoencoder))
    {
        var widths = Enumerable.Range(0, HiddenLayers + 2)
            .Select(i => (long)Math.Round(parameters + (o.LatentDim - parameters) * (double)i / (HiddenLayers + 1))).ToArray(); // P, h1..h10, L
        encoder = Sequential();
        for (int i = 0; i < HiddenLayers; i++)
        {
            encoder.append(Linear(widths[i], widths[i + 1]));
            encoder.append(LeakyReLU());
            encoder.append(Dropout(o.Dropout));
        }
        encoder.append(Linear(widths[HiddenLayers], o.LatentDim));
        encoder.append(Tanh());
        decoder = Sequential();
        for (int i = HiddenLayers + 1; i > 1; i--)
        {
            decoder.append(Linear(widths[i], widths[i - 1]));
            decoder.append(LeakyReLU());
            decoder.append(Dropout(o.Dropout));
        }
        decoder.append(Linear(widths[1], parameters));
        RegisterComponents();
    }

    public override Tensor Encode(Tensor weights) => encoder.call(weights);
    public override Tensor Decode(Tensor latent) => decoder.call(latent);
}

/// <summary>The contrastive branch's projection head: [Linear → BatchNorm → ReLU] × (n − 1) → Linear → BatchNorm.</summary>
internal sealed class ProjectionHead : Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    public ProjectionHead(int latent, IReadOnlyList<int> widths) : base(nameof(ProjectionHead))
    {
        layers = Sequential();
        long input = latent;
        for (int i = 0; i < widths.Count; i++)
        {
            layers.append(Linear(input, widths[i]));
            layers.append(BatchNorm1d(widths[i]));
            if (i < widths.Count - 1) layers.append(ReLU());
            input = widths[i];
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor latent) => layers.call(latent);
}
