using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>
/// Saves and loads a whole fitted pipeline that mixes this library's transformers (embedding, s(W), standardisation,
/// augmentation) with stock ML.NET ones. ML.NET's model zip cannot hold third-party transformers, so the chain is cut into
/// parts: each library transformer in its own format, each run of stock transformers as an ML.NET model zip, all in one
/// zip file with the input schema, sealed by a checksum of every byte (<see cref="SealedZip"/>) that loading checks before
/// anything is parsed. Loading gives a <see cref="TransformerChain{T}"/> with identical predictions.
/// </summary>
/// <example><code>
/// var model = ml.Transforms.WeightEmbedding("Embedding")
///     .Append(ml.Regression.Trainers.LightGbm("TestAccuracy", "Embedding")).Fit(train);
/// ml.Model.SaveWeightSpace(model, train.Schema, "probe.wsmodel");
/// var again = ml.Model.LoadWeightSpace("probe.wsmodel", out var schema);
/// </code></example>
public static class WeightSpaceModel
{
    private const int FormatVersion = 1;
    private const string ChainEntry = "chain.json", SchemaEntry = "input-schema.zip";

    /// <summary>Saves <paramref name="model"/> (a transformer or a chain of them) with its input schema, atomically.</summary>
    /// <exception cref="NotSupportedException">A transformer in the chain can be saved neither by ML.NET nor by this library.</exception>
    public static void SaveWeightSpace(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.Write(path, stream => Save(catalog, model, inputSchema, stream));
    }

    private static void Save(ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, Stream stream)
    {
        SealedZip.Write(stream, zip => Build(catalog, model, inputSchema, zip));
    }

    private static void Build(ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, ZipArchive zip)
    {
        var transformers = model is IEnumerable<ITransformer> chain ? chain.ToList() : new List<ITransformer> { model };
        var parts = new JsonArray();
        using (var s = zip.CreateEntry(SchemaEntry).Open()) catalog.Save(new TransformerChain<ITransformer>(), inputSchema, s);
        var schema = inputSchema;
        var stock = new List<ITransformer>();
        DataViewSchema stockSchema = schema;
        void FlushStock()
        {
            if (stock.Count == 0) return;
            var entry = $"part-{parts.Count:D3}.mlnet.zip";
            using (var s = zip.CreateEntry(entry).Open()) catalog.Save(new TransformerChain<ITransformer>(stock.ToArray()), stockSchema, s);
            parts.Add(new JsonObject { ["kind"] = "mlnet", ["entry"] = entry });
            stock.Clear();
        }
        foreach (var t in transformers)
        {
            if (t is WeightVectorTransformer ours)
            {
                FlushStock();
                var entry = $"part-{parts.Count:D3}.weightspace.zip";
                using (var s = zip.CreateEntry(entry, CompressionLevel.NoCompression).Open()) ours.Save(s);
                parts.Add(new JsonObject { ["kind"] = "weightspace", ["entry"] = entry });
            }
            else
            {
                if (stock.Count == 0) stockSchema = schema;
                stock.Add(t);
            }
            schema = t.GetOutputSchema(schema);
        }
        FlushStock();
        using (var s = zip.CreateEntry(ChainEntry).Open())
            JsonSerializer.Serialize(s, new JsonObject { ["formatVersion"] = FormatVersion, ["parts"] = parts }, new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Loads a pipeline saved with <see cref="SaveWeightSpace"/>.</summary>
    /// <exception cref="InvalidDataException">Missing, truncated, corrupt or newer file; the message names it.</exception>
    public static TransformerChain<ITransformer> LoadWeightSpace(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such model file.");
        try
        {
            using var file = File.OpenRead(path);
            using var verified = SealedZip.ReadVerified(file, path); // every byte checked before anything is parsed
            using var zip = new ZipArchive(verified, ZipArchiveMode.Read);
            JsonNode chain;
            using (var s = Open(zip, ChainEntry, path)) chain = JsonNode.Parse(s) ?? throw new InvalidDataException($"{path}: {ChainEntry} is empty.");
            int version = chain["formatVersion"]?.GetValue<int>() ?? 0;
            if (version > FormatVersion) throw new InvalidDataException($"{path}: format version {version} is newer than the {FormatVersion} this library reads; update WeightSpace.MLNet.");
            using (var s = Seekable(Open(zip, SchemaEntry, path))) catalog.Load(s, out inputSchema);
            var transformers = new List<ITransformer>();
            foreach (var part in chain["parts"]?.AsArray() ?? throw new InvalidDataException($"{path}: {ChainEntry} lists no parts."))
            {
                string entry = part!["entry"]!.GetValue<string>();
                using var s = Seekable(Open(zip, entry, path));
                if (part["kind"]!.GetValue<string>() == "weightspace") transformers.Add(TransformerFile.Load(s, $"{path}:{entry}"));
                else if (catalog.Load(s, out _) is var loaded && loaded is IEnumerable<ITransformer> stockChain) transformers.AddRange(stockChain);
                else transformers.Add(loaded);
            }
            return new TransformerChain<ITransformer>(transformers.ToArray());
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: the file is truncated or corrupt ({e.Message}).", e);
        }
        catch (Exception e) when (e is JsonException or IOException or FormatException or InvalidOperationException or ArgumentException or NullReferenceException)
        {
            throw new InvalidDataException($"{path}: the model file is truncated or corrupt ({e.Message}).", e);
        }
    }

    private static Stream Open(ZipArchive zip, string entry, string path) =>
        (zip.GetEntry(entry) ?? throw new InvalidDataException($"{path}: '{entry}' is missing; not a WeightSpace model file.")).Open();

    private static MemoryStream Seekable(Stream s)
    {
        var ms = new MemoryStream();
        using (s) s.CopyTo(ms);
        ms.Position = 0;
        return ms;
    }
}
