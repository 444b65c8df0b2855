using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace WeightSpace.MLNet;

/// <summary>
/// The library's own file format for fitted transformers (ML.NET's model zip is closed to third parties): a zip with
/// <c>transformer.json</c> — format version, kind, column names, layout and the fitted parameters — plus, for a
/// <see cref="WeightEmbeddingTransformer"/>, the hyper-representation in <c>representation.wsemb</c>; sealed by a checksum of
/// every byte (<see cref="SealedZip"/>), checked before anything is parsed.
/// </summary>
internal static class TransformerFile
{
    public const int FormatVersion = 1;
    private const string HeaderEntry = "transformer.json", RepresentationEntry = "representation.wsemb", PredictorEntry = "predictor.wspred";

    public static void Save(WeightVectorTransformer t, Stream stream)
    {
        var json = new JsonObject
        {
            ["formatVersion"] = FormatVersion,
            ["kind"] = t.Kind,
            ["outputColumnName"] = t.OutputColumnName,
            ["inputColumnName"] = t.InputColumnName,
            ["nonFinite"] = t.NonFinite.ToString(),
            ["layout"] = JsonNode.Parse(t.Layout.ToJson()),
        };
        switch (t)
        {
            case WeightStatisticsTransformer s: json["variant"] = s.Featurizer.Variant.ToString(); break;
            case NeuronStatisticsTransformer: break;
            case StandardizeWeightsTransformer s:
                json["layerMeans"] = new JsonArray(s.LayerMeans.Select(v => (JsonNode)v).ToArray());
                json["layerStandardDeviations"] = new JsonArray(s.LayerStandardDeviations.Select(v => (JsonNode)v).ToArray());
                break;
            case AugmentWeightsTransformer a: json["augmentation"] = JsonSerializer.SerializeToNode(a.Augmenter.Options, HyperRepresentation.Json); break;
            case WeightEmbeddingTransformer: break;
            case WeightSpacePredictionTransformer w: json["predictedLabelColumnName"] = w.PredictedLabelColumnName; break;
            default: throw new NotSupportedException($"{t.GetType().Name} has no saved form.");
        }
        SealedZip.Write(stream, zip =>
        {
            using (var s = zip.CreateEntry(HeaderEntry).Open()) JsonSerializer.Serialize(s, json, HyperRepresentation.Json);
            if (t is WeightEmbeddingTransformer e)
                using (var s = zip.CreateEntry(RepresentationEntry, CompressionLevel.NoCompression).Open()) e.Representation.Save(s);
            if (t is WeightSpacePredictionTransformer w)
                using (var s = zip.CreateEntry(PredictorEntry, CompressionLevel.NoCompression).Open()) w.Predictor.Save(s);
        });
    }

    public static WeightVectorTransformer Load(Stream stream, string name)
    {
        try
        {
            using var verified = SealedZip.ReadVerified(stream, name); // every byte checked before anything is parsed
            using var zip = new ZipArchive(verified, ZipArchiveMode.Read, leaveOpen: true);
            var headerEntry = zip.GetEntry(HeaderEntry);
            if (headerEntry is null)
            {
                // A bare hyper-representation file (HyperRepresentation.Save) loads as an embedding with default column names.
                if (zip.GetEntry("config.json") is null) throw new InvalidDataException($"{name}: not a WeightSpace.MLNet transformer file ({HeaderEntry} is missing).");
                zip.Dispose();
                verified.Position = 0;
                return new WeightEmbeddingTransformer("Embedding", ZooColumns.Weights, HyperRepresentation.Load(verified, name));
            }
            JsonNode json;
            using (var s = headerEntry.Open()) json = JsonNode.Parse(s) ?? throw new InvalidDataException($"{name}: {HeaderEntry} is empty.");
            int version = json["formatVersion"]?.GetValue<int>() ?? throw new InvalidDataException($"{name}: {HeaderEntry} has no formatVersion.");
            if (version > FormatVersion)
                throw new InvalidDataException($"{name}: format version {version} is newer than the {FormatVersion} this library reads; update WeightSpace.MLNet.");
            string Str(string key) => json[key]?.GetValue<string>() ?? throw new InvalidDataException($"{name}: {HeaderEntry} lacks '{key}'.");
            var layout = WeightLayout.FromJson(json["layout"]?.ToJsonString() ?? throw new InvalidDataException($"{name}: {HeaderEntry} lacks 'layout'."));
            string output = Str("outputColumnName"), input = Str("inputColumnName");
            var nonFinite = Enum.Parse<NonFiniteWeights>(Str("nonFinite"));
            return Str("kind") switch
            {
                nameof(WeightStatisticsTransformer) => new WeightStatisticsTransformer(output, input, layout, Enum.Parse<StatisticsVariant>(Str("variant"))) { NonFinite = nonFinite },
                nameof(NeuronStatisticsTransformer) => new NeuronStatisticsTransformer(output, input, layout) { NonFinite = nonFinite },
                nameof(StandardizeWeightsTransformer) => new StandardizeWeightsTransformer(output, input, layout,
                    Doubles(json["layerMeans"], layout.Layers.Count, name), Doubles(json["layerStandardDeviations"], layout.Layers.Count, name)) { NonFinite = nonFinite },
                nameof(AugmentWeightsTransformer) => new AugmentWeightsTransformer(output, input, layout,
                    json["augmentation"].Deserialize<AugmentationOptions>(HyperRepresentation.Json) ?? throw new InvalidDataException($"{name}: no augmentation options.")) { NonFinite = nonFinite },
                nameof(WeightEmbeddingTransformer) => LoadEmbedding(zip, name, output, input, layout, nonFinite),
                nameof(WeightSpacePredictionTransformer) => LoadPredictor(zip, name, output, input, layout, Str("predictedLabelColumnName")),
                var kind => throw new InvalidDataException($"{name}: unknown transformer kind '{kind}'."),
            };
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(name, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{name}: the file is truncated or corrupt ({e.Message}).", e);
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException or ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{name}: the transformer file is truncated or corrupt ({e.Message}).", e);
        }
    }

    private static WeightEmbeddingTransformer LoadEmbedding(ZipArchive zip, string name, string output, string input, WeightLayout layout, NonFiniteWeights nonFinite)
    {
        using var ms = Entry(zip, RepresentationEntry, "embedding", name);
        var representation = HyperRepresentation.Load(ms, name);
        if (!representation.Layout.Equals(layout))
        {
            representation.Dispose();
            throw new InvalidDataException($"{name}: the header's layout {layout} differs from the representation's {representation.Layout}.");
        }
        return new WeightEmbeddingTransformer(output, input, representation) { NonFinite = nonFinite };
    }

    private static WeightSpacePredictionTransformer LoadPredictor(ZipArchive zip, string name, string output, string input, WeightLayout layout, string predictedLabel)
    {
        using var ms = Entry(zip, PredictorEntry, "predictor", name);
        var predictor = WeightSpacePredictor.Load(ms, name);
        if (!predictor.Layout.Equals(layout))
        {
            predictor.Dispose();
            throw new InvalidDataException($"{name}: the header's layout {layout} differs from the predictor's {predictor.Layout}.");
        }
        return new WeightSpacePredictionTransformer(input, predictor, output, predictedLabel);
    }

    private static MemoryStream Entry(ZipArchive zip, string entry, string what, string name) =>
        new(ModuleBytes.ReadEntry(zip.GetEntry(entry) ?? throw new InvalidDataException($"{name}: the {what}'s {entry} is missing.")));

    private static double[] Doubles(JsonNode? node, int count, string name)
    {
        var values = node?.AsArray().Select(v => v!.GetValue<double>()).ToArray() ?? throw new InvalidDataException($"{name}: fitted statistics are missing.");
        if (values.Length != count) throw new InvalidDataException($"{name}: {values.Length} fitted values for {count} layers.");
        return values;
    }
}
