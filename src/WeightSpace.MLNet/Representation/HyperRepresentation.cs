using System.IO.Compression;
using System.IO.Hashing;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace WeightSpace.MLNet;

/// <summary>
/// A trained hyper-representation (METHOD §5): the encoder maps a model's flat weight vector to a tanh-bounded embedding
/// of <see cref="LatentDim"/> values from which linear probes predict the model's characteristics; the decoder maps it
/// back to weights. Train with <see cref="Train"/> (or <c>mlContext.Transforms.WeightEmbedding(...)</c>), keep with
/// <see cref="Save(string)"/> / <see cref="Load(string, int?)"/>.
/// </summary>
/// <example><code>
/// var rep = HyperRepresentation.Train(WeightLayout.TetrisMlp100, new RepresentationData(weights, rows), validation: null,
///     WeightEmbeddingOptions.CpuDefault with { Epochs = 10 });
/// float[] embedding = rep.Embed(weights, rows);        // rows × rep.LatentDim
/// rep.Save("tetris.wsemb");
/// </code></example>
public sealed class HyperRepresentation : IDisposable
{
    /// <summary>Version of the saved format.</summary>
    public const int FormatVersion = 1;
    private const string ConfigEntry = "config.json", ModelEntry = "model.bin", TrainingRowsEntry = "training-rows.bin";
    private readonly WeightAutoencoder _model;
    private readonly WeightNormalizer _normalizer;
    private readonly RowFingerprints? _trainingRows;
    private readonly object _gate = new();
    private (int Count, IReadOnlyList<Permutation> Set)? _views; // the permutations of the last view count embedded with
    private AutoencoderInference? _inference;                         // its encoder in C#, made at the first embedding
    private bool _disposed;

    internal HyperRepresentation(WeightLayout layout, WeightEmbeddingOptions options, WeightNormalizer normalizer, WeightAutoencoder model, IReadOnlyList<TrainingReport> history,
        RowFingerprints? trainingRows)
    {
        Layout = layout;
        Options = options;
        _normalizer = normalizer;
        _trainingRows = trainingRows;
        _model = model;
        History = history;
        _model.eval();
    }

    /// <summary>The weight layout it encodes.</summary>
    public WeightLayout Layout { get; }
    /// <summary>The options it was trained with (<see cref="WeightEmbeddingOptions.EmbeddingViews"/> as given to <see cref="Load(string, int?)"/> when it was set there).</summary>
    public WeightEmbeddingOptions Options { get; }
    /// <summary>Length of the embedding.</summary>
    public int LatentDim => Options.LatentDim;
    /// <summary>The end-of-epoch reports of its training (the learning curve).</summary>
    public IReadOnlyList<TrainingReport> History { get; }

    /// <summary>
    /// Whether it knows which rows it was trained and validated on (a fingerprint of each, saved with it), so that
    /// <see cref="WereTrainingRows"/> can tell whether test rows leaked into its training. False for files saved by versions
    /// before that record existed.
    /// </summary>
    public bool RecordsTrainingRows => _trainingRows is not null;

    /// <summary>The number of distinct rows it was trained and validated on (0 when <see cref="RecordsTrainingRows"/> is false).</summary>
    public int TrainingRowCount => _trainingRows?.Count ?? 0;

    /// <summary>
    /// For each of <paramref name="rows"/> weight vectors: whether it is identical (bit for bit) to a row this representation
    /// was trained or validated on. Probe results on such rows are optimistic; <see cref="ProbeComparison"/> refuses them.
    /// </summary>
    /// <exception cref="InvalidOperationException">It has no record of its training rows (<see cref="RecordsTrainingRows"/>).</exception>
    /// <exception cref="ArgumentException">The vectors do not have the layout's length.</exception>
    public bool[] WereTrainingRows(ReadOnlySpan<float> weights, int rows)
    {
        var record = _trainingRows ?? throw new InvalidOperationException("This hyper-representation has no record of its training rows (it was saved by an older version).");
        int p = Layout.ParameterCount;
        if (rows < 0 || weights.Length != (long)rows * p)
            throw new ArgumentException($"{rows} rows of layout '{Layout.Name}' need {(long)rows * p} values ({p} per row), not {weights.Length}.");
        var seen = new bool[rows];
        for (int r = 0; r < rows; r++) seen[r] = record.Contains(RowFingerprints.Of(weights.Slice(r * p, p)));
        return seen;
    }

    /// <summary>The weight normaliser it was trained with (a fine-tuned predictor keeps it).</summary>
    internal WeightNormalizer Normalizer => _normalizer;

    /// <summary>Copies its autoencoder's parameters into <paramref name="target"/>, an autoencoder of the same architecture (fine-tuning starts there).</summary>
    internal void CopyModelTo(WeightAutoencoder target)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ModuleBytes.Into(target, ModuleBytes.Of(_model));
        }
    }

    /// <summary>Whether a row with this <see cref="RowFingerprints.Of"/> fingerprint was among its training rows (false without a record).</summary>
    internal bool WasTrainingRow(ulong fingerprint) => _trainingRows?.Contains(fingerprint) ?? false;

    /// <summary>Trains a hyper-representation on <paramref name="train"/>, validating on <paramref name="validation"/> (held-out models) when given.</summary>
    /// <exception cref="ArgumentException">Wrong vector sizes, non-finite weights, a validation label that is missing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was triggered.</exception>
    public static HyperRepresentation Train(WeightLayout layout, RepresentationData train, RepresentationData? validation, WeightEmbeddingOptions? options = null,
        IProgress<TrainingReport>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(train);
        return new RepresentationTrainer(layout, options ?? WeightEmbeddingOptions.CpuDefaultFor(layout)).Train(train, validation, progress, cancel);
    }

    /// <summary>
    /// Embeds <paramref name="rows"/> weight vectors (row-major) into rows × <see cref="LatentDim"/> values, each the mean over
    /// <see cref="WeightEmbeddingOptions.EmbeddingViews"/> views of the model (see there; 1 = the weights as given).
    /// </summary>
    /// <exception cref="ArgumentException">The vectors do not have the layout's length, or hold NaN/∞.</exception>
    public float[] Embed(ReadOnlySpan<float> weights, int rows) => Embed(weights, rows, Options.EmbeddingViews);

    /// <summary>
    /// Embeds with an explicit number of views: the mean latent of the weights as given and up to <paramref name="views"/> − 1
    /// distinct neuron permutations of them (a fixed set drawn from the options' seed, the same for every row and call; all
    /// of them when the layout has fewer). A permuted network computes the same function, so the mean over all permutations
    /// is a permutation-invariant embedding; 1 is R21's protocol (the un-augmented weights).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="views"/> is below 1.</exception>
    public float[] Embed(ReadOnlySpan<float> weights, int rows, int views)
    {
        Check(weights, rows);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // The set depends only on (layout, views, seed): drawn once per view count, not per batch or row.
            if (_views?.Count != views) _views = (views, EmbeddingPermutations(Layout, views, Options.Seed));
            var permutations = _views.Value.Set;
            _inference ??= AutoencoderInference.For(_model);   // the trained model never changes: its C# encoder is made once
            int p = Layout.ParameterCount, l = LatentDim, threads = Options.Threads > 0 ? Options.Threads : Environment.ProcessorCount;
            int batch = _inference?.ChunkRows(Options.InferenceBatchSize) ?? Options.InferenceBatchSize;
            var latent = new float[(long)rows * l];
            var view = new float[Math.Min(rows, batch) * p];
            var z = new float[Math.Min(rows, batch) * l];
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                var sum = latent.AsSpan(start * l, n * l);
                var chunk = weights.Slice(start * p, n * p);
                for (int v = 0; v <= permutations.Count; v++)
                {
                    // view 0: the weights as given; then each permutation of them
                    var target = view.AsSpan(0, n * p);
                    if (v == 0) chunk.CopyTo(target);
                    else for (int r = 0; r < n; r++) permutations[v - 1].Apply(chunk.Slice(r * p, p), target.Slice(r * p, p));
                    var encoded = v == 0 ? sum : z.AsSpan(0, n * l);
                    if (_inference is not null)
                    {
                        _normalizer.Apply(target);
                        _inference.Encode(target, n, encoded, threads);
                    }
                    else Run(_model, _normalizer, target, n, l, Options.InferenceBatchSize, reconstruct: false).Latent.CopyTo(encoded);
                    if (v > 0) System.Numerics.Tensors.TensorPrimitives.Add(sum, encoded, sum);
                }
                if (permutations.Count > 0) System.Numerics.Tensors.TensorPrimitives.Multiply(sum, 1f / (permutations.Count + 1), sum);
            }
            return latent;
        }
    }

    /// <summary>
    /// The permutations an embedding of <paramref name="views"/> views averages over besides the weights as given: distinct,
    /// not the identity, drawn from <paramref name="seed"/> rejecting repeats (so the set depends only on the layout, the
    /// count and the seed); every non-identity permutation when the layout has fewer than <paramref name="views"/> in all.
    /// </summary>
    internal static IReadOnlyList<Permutation> EmbeddingPermutations(WeightLayout layout, int views, long seed)
    {
        if (views < 1) throw new ArgumentOutOfRangeException(nameof(views), views, "An embedding needs at least 1 view (the weights as given).");
        long distinct = 1;
        for (int l = 0; l < layout.Layers.Count - 1 && distinct < views; l++)
            for (int k = 2; k <= layout.Layers[l].OutFeatures && distinct < views; k++) distinct *= k;
        views = (int)Math.Min(views, distinct);
        var chosen = new List<Permutation>(views - 1);
        var seen = new HashSet<string> { Key(Permutation.Identity(layout)) };
        var rng = Rng.For(seed, 0x56494557);
        while (chosen.Count < views - 1)
        {
            var candidate = Permutation.Random(layout, ref rng);
            if (seen.Add(Key(candidate))) chosen.Add(candidate);
        }
        return chosen;

        string Key(Permutation q) => string.Join('|', Enumerable.Range(0, layout.Layers.Count - 1).Select(l => string.Join(',', q.ForLayer(l))));
    }

    /// <summary>Encodes and decodes: the reconstructed weight vectors (rows × parameters).</summary>
    public float[] Reconstruct(ReadOnlySpan<float> weights, int rows)
    {
        Check(weights, rows);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Run(_model, _normalizer, weights, rows, LatentDim, Options.InferenceBatchSize, reconstruct: true).Reconstruction!;
        }
    }

    private void Check(ReadOnlySpan<float> weights, int rows)
    {
        int p = Layout.ParameterCount;
        if (rows < 0 || weights.Length != (long)rows * p)
            throw new ArgumentException($"{rows} rows of layout '{Layout.Name}' need {(long)rows * p} values ({p} per row), not {weights.Length}.");
        for (int i = 0; i < weights.Length; i++)
            if (!float.IsFinite(weights[i]))
                throw new ArgumentException($"Row {i / p} holds {weights[i]} at position {i % p}: a hyper-representation embeds finite weights only.");
    }

    /// <summary>
    /// Batched inference: the latent and, when asked, the reconstruction in raw weight space. A transformer runs on
    /// <see cref="AutoencoderInference"/> on <paramref name="threads"/> cores (0 = all); the fully connected autoencoder
    /// runs its module under eval + no_grad.
    /// </summary>
    internal static (float[] Latent, float[]? Reconstruction) Run(WeightAutoencoder model, WeightNormalizer normalizer, ReadOnlySpan<float> weights, int rows,
        int latentDim, int batchSize, bool reconstruct, int threads = 0)
    {
        int p = normalizer.Mean.Length;
        var latent = new float[(long)rows * latentDim];
        var reconstruction = reconstruct ? new float[(long)rows * p] : null;
        var inference = AutoencoderInference.For(model);
        if (inference is not null) batchSize = inference.ChunkRows(batchSize);
        bool wasTraining = model.training;
        model.eval();
        using var noGrad = no_grad();
        var buffer = new float[Math.Min(rows, batchSize) * p];
        for (int start = 0; start < rows; start += batchSize)
        {
            int n = Math.Min(batchSize, rows - start);
            var chunk = buffer.AsSpan(0, n * p);
            weights.Slice(start * p, n * p).CopyTo(chunk);
            normalizer.Apply(chunk);
            var z = latent.AsSpan(start * latentDim, n * latentDim);
            var y = reconstruction is null ? Span<float>.Empty : reconstruction.AsSpan(start * p, n * p);
            if (inference is not null)
            {
                int cores = threads > 0 ? threads : Environment.ProcessorCount;
                if (reconstruction is null) inference.Encode(chunk, n, z, cores);
                else inference.EncodeAndDecode(chunk, n, z, y, cores);
            }
            else
            {
                using var scope = NewDisposeScope();
                var encoded = model.Encode(tensor(chunk.ToArray(), new long[] { n, p }));
                encoded.data<float>().CopyTo(z);
                if (reconstruction is not null) model.Decode(encoded).data<float>().CopyTo(y);
            }
            if (reconstruction is not null) normalizer.Invert(y);
        }
        if (wasTraining) model.train();
        return (latent, reconstruction);
    }

    // ---------------- saving ----------------

    private sealed record SavedConfig(int FormatVersion, string Kind, WeightLayout Layout, WeightEmbeddingOptions Options, WeightNormalization Normalization,
        float[] NormalizerMean, float[] NormalizerScale, string ModelChecksum, IReadOnlyList<TrainingReport> History, string? TrainingRowsChecksum = null);

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Saves to a file, atomically: a zip of <c>config.json</c> (the layout, options, normaliser, learning curve and a format
    /// version), <c>model.bin</c> and <c>training-rows.bin</c> (the fingerprints of <see cref="WereTrainingRows"/>, 8 bytes a
    /// row; older readers ignore it), sealed by a checksum of every byte that <see cref="Load(string, int?)"/> checks first.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.Write(path, Save);
    }

    /// <summary>Saves to a stream (see <see cref="Save(string)"/>).</summary>
    public void Save(Stream stream)
    {
        byte[] modelBytes;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            modelBytes = ModuleBytes.Of(_model);
        }
        var rowBytes = _trainingRows?.ToBytes();
        var config = new SavedConfig(FormatVersion, "HyperRepresentation", Layout, Options, _normalizer.Kind, _normalizer.Mean, _normalizer.Scale,
            XxHash3.HashToUInt64(modelBytes).ToString("x16"), History, rowBytes is null ? null : XxHash3.HashToUInt64(rowBytes).ToString("x16"));
        SealedZip.Write(stream, zip =>
        {
            using (var entry = zip.CreateEntry(ConfigEntry).Open()) JsonSerializer.Serialize(entry, config, Json);
            using (var entry = zip.CreateEntry(ModelEntry, CompressionLevel.NoCompression).Open()) entry.Write(modelBytes);
            if (rowBytes is not null)
                using (var entry = zip.CreateEntry(TrainingRowsEntry, CompressionLevel.NoCompression).Open()) entry.Write(rowBytes);
        });
    }

    /// <summary>
    /// Loads a saved hyper-representation. <paramref name="embeddingViews"/>, when given, replaces the saved
    /// <see cref="WeightEmbeddingOptions.EmbeddingViews"/> — an inference setting: how many views an embedding averages — in
    /// <see cref="Options"/>, so that a transformer or featurizer built on it embeds with that many.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is missing, truncated, corrupt or of a newer format; the message names the file.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="embeddingViews"/> is below 1.</exception>
    public static HyperRepresentation Load(string path, int? embeddingViews = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such hyper-representation file.");
        using var fs = File.OpenRead(path);
        return Load(fs, path, embeddingViews);
    }

    /// <summary>Loads from a stream; <paramref name="name"/> names it in errors (<paramref name="embeddingViews"/> as for a file).</summary>
    public static HyperRepresentation Load(Stream stream, string name = "stream", int? embeddingViews = null)
    {
        if (embeddingViews is < 1) throw new ArgumentOutOfRangeException(nameof(embeddingViews), embeddingViews, "An embedding averages at least one view.");
        var (config, modelBytes, rowBytes) = SealedZip.Read(stream, name, "hyper-representation", zip =>
        {
            var configEntry = zip.GetEntry(ConfigEntry) ?? throw new InvalidDataException($"{name}: not a hyper-representation file ({ConfigEntry} is missing).");
            var modelEntry = zip.GetEntry(ModelEntry) ?? throw new InvalidDataException($"{name}: the file holds no model ({ModelEntry} is missing).");
            SavedConfig? saved;
            using (var s = configEntry.Open())
            {
                var node = System.Text.Json.Nodes.JsonNode.Parse(s) ?? throw new InvalidDataException($"{name}: {ConfigEntry} is empty.");
                int version = node["formatVersion"]?.GetValue<int>() ?? throw new InvalidDataException($"{name}: {ConfigEntry} has no formatVersion.");
                if (version > FormatVersion) throw new InvalidDataException($"{name}: format version {version} is newer than the {FormatVersion} this library reads; update WeightSpace.MLNet.");
                saved = node.Deserialize<SavedConfig>(Json);
            }
            byte[]? rows = saved?.TrainingRowsChecksum is null ? null
                : ModuleBytes.ReadEntry(zip.GetEntry(TrainingRowsEntry) ?? throw new InvalidDataException($"{name}: the record of training rows ({TrainingRowsEntry}) is missing."));
            return (saved, ModuleBytes.ReadEntry(modelEntry), rows);
        });
        if (config is null || config.Layout is null || config.Options is null)
            throw new InvalidDataException($"{name}: {ConfigEntry} is incomplete.");
        if (XxHash3.HashToUInt64(modelBytes).ToString("x16") != config.ModelChecksum)
            throw new InvalidDataException($"{name}: the model's checksum does not match; the file is corrupt.");
        if (rowBytes is not null && XxHash3.HashToUInt64(rowBytes).ToString("x16") != config.TrainingRowsChecksum)
            throw new InvalidDataException($"{name}: the checksum of the record of training rows does not match; the file is corrupt.");
        var trainingRows = rowBytes is null ? null : RowFingerprints.FromBytes(rowBytes, name);
        if (config.NormalizerMean.Length != config.Layout.ParameterCount || config.NormalizerScale.Length != config.Layout.ParameterCount)
            throw new InvalidDataException($"{name}: the normaliser does not match layout '{config.Layout.Name}'.");
        var model = WeightAutoencoder.Create(config.Layout, config.Options);
        try
        {
            ModuleBytes.Into(model, modelBytes);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            model.Dispose();
            throw new InvalidDataException($"{name}: the model weights do not fit the saved configuration ({e.Message}).", e);
        }
        var normalizer = WeightNormalizer.Create(config.Normalization, config.NormalizerMean, config.NormalizerScale);
        var options = embeddingViews is { } views ? config.Options with { EmbeddingViews = views } : config.Options;
        return new HyperRepresentation(config.Layout, options, normalizer, model, config.History ?? Array.Empty<TrainingReport>(), trainingRows);

    }

    /// <summary>Frees the native model.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _model.Dispose();
        }
    }
}
