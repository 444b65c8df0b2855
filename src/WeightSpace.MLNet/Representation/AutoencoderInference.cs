using static TorchSharp.torch;

namespace WeightSpace.MLNet;

/// <summary>Whether the transformer runs on the C# kernels (the default) or on libtorch's modules: the benchmarks measure one against the other.</summary>
internal static class CpuKernels
{
    public static bool Enabled { get; set; } = true;
}

/// <summary>
/// A <see cref="TransformerAutoencoder"/> (eval mode: no dropout) run in C# for inference: its parameters copied out once,
/// then <see cref="CpuEncoder"/> (and <see cref="CpuDecoder"/> for reconstructions) on blocks of a few models, spread over the
/// cores, so every activation of a block stays in cache. Each row's result is computed the same way whatever block or
/// thread holds it. It agrees with the module within float rounding (AutoencoderInferenceTests) and embeds several times
/// faster than libtorch at these sizes (docs/benchmarks.md), where small matrices make libtorch's per-op dispatch, packing
/// and thread synchronisation cost more than the arithmetic.
/// </summary>
internal sealed unsafe class AutoencoderInference
{
    private readonly FlatParameters _parameters;
    private readonly CpuEncoder _encoder;
    private readonly Lazy<CpuDecoder> _decoder;
    private readonly int _p, _rowsPerBlock;
    private readonly System.Collections.Concurrent.ConcurrentBag<(CpuEncoder.Tape Encoder, CpuDecoder.Tape? Decoder)> _tapes = new();   // per thread that ran, for the next call

    /// <param name="owner">The module whose parameters hold the encoder's (the autoencoder itself, or a network around it).</param>
    /// <param name="model">The autoencoder.</param>
    /// <param name="prefix">The autoencoder's parameter names' prefix in <paramref name="owner"/>.</param>
    public AutoencoderInference(nn.Module owner, TransformerAutoencoder model, string prefix = "")
    {
        _parameters = new FlatParameters(owner);
        _encoder = new CpuEncoder(_parameters, prefix, new GradientLayout(), model.Tokenizer, model.Options);
        _decoder = new(() => prefix.Length == 0 ? new CpuDecoder(_parameters, new GradientLayout(), model.Tokenizer, model.Options)
            : throw new InvalidOperationException("Reconstructions are made from an autoencoder's own parameters."));
        _p = model.Tokenizer.Layout.ParameterCount;
        // About a hundred token rows per block: enough rows per weight panel, little enough to stay in the core's cache.
        _rowsPerBlock = Math.Clamp(128 / _encoder.Sequence, 1, 64);
    }

    /// <summary>Length of the latent.</summary>
    public int LatentDim => _encoder.LatentDim;

    /// <summary>Rows an <see cref="Encode"/> call should take at least so that every core gets blocks: chunks of 4 M values (16 MB) or more.</summary>
    public int ChunkRows(int atLeast) => Math.Max(atLeast, (1 << 22) / Math.Max(1, _p));

    /// <summary>The parameters it was copied from (a network's head reads its own from them).</summary>
    public FlatParameters Parameters => _parameters;

    /// <summary>The encoder of <paramref name="model"/> as it is now, or null when it has none this class computes (the fully connected autoencoder).</summary>
    public static AutoencoderInference? For(WeightAutoencoder model) =>
        CpuKernels.Enabled && model is TransformerAutoencoder transformer ? new AutoencoderInference(transformer, transformer) : null;

    /// <summary>
    /// Latents of <paramref name="rows"/> rows of normalised weights into <paramref name="latent"/> (rows × <see cref="LatentDim"/>),
    /// on up to <paramref name="threads"/> cores.
    /// </summary>
    public void Encode(ReadOnlySpan<float> weights, int rows, Span<float> latent, int threads) => Run(weights, rows, latent, Span<float>.Empty, threads);

    /// <summary>Latents and reconstructions (rows × parameters, normalised like the input) of <paramref name="rows"/> rows of normalised weights.</summary>
    public void EncodeAndDecode(ReadOnlySpan<float> weights, int rows, Span<float> latent, Span<float> reconstruction, int threads)
    {
        if (reconstruction.Length != (long)rows * _p) throw new ArgumentException($"{rows} rows need {(long)rows * _p} reconstructed values, not {reconstruction.Length}.");
        Run(weights, rows, latent, reconstruction, threads);
    }

    private void Run(ReadOnlySpan<float> weights, int rows, Span<float> latent, Span<float> reconstruction, int threads)
    {
        if (weights.Length != (long)rows * _p) throw new ArgumentException($"{rows} rows need {(long)rows * _p} weights, not {weights.Length}.");
        if (latent.Length != (long)rows * LatentDim) throw new ArgumentException($"{rows} rows need {(long)rows * LatentDim} latent values, not {latent.Length}.");
        bool decode = !reconstruction.IsEmpty;
        var decoder = decode ? _decoder.Value : null;
        int blocks = (rows + _rowsPerBlock - 1) / _rowsPerBlock, l = LatentDim, stride = _encoder.LatentStride, p = _p;
        fixed (float* x = weights, z = latent, y = reconstruction)
        {
            float* xs = x, zs = z, ys = y;   // fixed locals cannot be captured
            var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
            Parallel.For(0, blocks, options, () => _tapes.TryTake(out var kept) ? kept : (new CpuEncoder.Tape(_encoder, _rowsPerBlock), null), (block, _, tapes) =>
            {
                int first = block * _rowsPerBlock, n = Math.Min(_rowsPerBlock, rows - first);
                _encoder.Forward(xs + (long)first * p, n, tapes.Encoder, _parameters.Values);
                for (int r = 0; r < n; r++) Ops.Copy(tapes.Encoder.Latent.P + r * stride, zs + (long)(first + r) * l, l);
                if (decoder is null) return tapes;
                tapes.Decoder ??= new CpuDecoder.Tape(decoder, _rowsPerBlock);
                decoder.Forward(tapes.Encoder.Latent.P, stride, n, tapes.Decoder, _parameters.Values);
                Ops.Copy(tapes.Decoder.Reconstruction.P, ys + (long)first * p, n * p);
                return tapes;
            }, _tapes.Add);
        }
    }
}
