namespace WeightSpace.ZooGen.Data;

/// <summary>
/// Reads the CIFAR-10 binary format (<c>data_batch_1.bin</c> … <c>data_batch_5.bin</c>, <c>test_batch.bin</c>;
/// records of 1 label byte + 3072 pixel bytes, R then G then B planes of 32×32) and converts to grey as
/// Unterthiner et al.: 0.299 R + 0.587 G + 0.114 B, scaled to [0, 1].
/// </summary>
public static class Cifar10Reader
{
    private const int RecordBytes = 1 + 3 * 1024;

    /// <summary>Reads one batch file into grey 1×32×32 images.</summary>
    /// <exception cref="InvalidDataException">A size that is not a whole number of records, or a label above 9.</exception>
    public static ImageDataset ReadBatch(string path, string name)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CIFAR-10: {path} not found (the binary version, cifar-10-batches-bin).", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
            throw new InvalidDataException($"{path}: {bytes.Length} bytes is not a whole number of {RecordBytes}-byte CIFAR-10 records (truncated or not CIFAR-10 binary).");
        int n = bytes.Length / RecordBytes;
        var pixels = new float[n * 1024];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int o = i * RecordBytes;
            labels[i] = bytes[o];
            if (labels[i] > 9) throw new InvalidDataException($"{path}: record {i} has label {labels[i]}, not 0..9.");
            for (int p = 0; p < 1024; p++)
                pixels[i * 1024 + p] = (0.299f * bytes[o + 1 + p] + 0.587f * bytes[o + 1 + 1024 + p] + 0.114f * bytes[o + 1 + 2048 + p]) / 255f;
        }
        return new ImageDataset(name, pixels, labels, 1, 32, 32, 10);
    }

    /// <summary>Reads the five training batches and the test batch from <paramref name="directory"/>.</summary>
    public static DataSplit ReadSplit(string directory)
    {
        var train = Enumerable.Range(1, 5).Select(i => ReadBatch(Path.Combine(directory, $"data_batch_{i}.bin"), "cifar10-train")).ToList();
        var test = ReadBatch(Path.Combine(directory, "test_batch.bin"), "cifar10-test");
        var px = train.SelectMany(t => t.Pixels).ToArray();
        var lb = train.SelectMany(t => t.Labels).ToArray();
        return new DataSplit(new ImageDataset("cifar10-train", px, lb, 1, 32, 32, 10), test);
    }
}
