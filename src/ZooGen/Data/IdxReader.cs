using System.Buffers.Binary;
using System.IO.Compression;
using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Data;

/// <summary>
/// Reads the IDX files of MNIST and Fashion-MNIST (raw or .gz): images as ubyte [N, 28, 28] scaled to [0, 1],
/// labels as ubyte [N].
/// </summary>
public static class IdxReader
{
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs Fashion-MNIST.</summary>
    public const string FashionMnistDebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Reads a train/test split from a directory holding the four standard files.</summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message says where the data comes from.</exception>
    public static DataSplit ReadSplit(string directory, string name, string provider)
    {
        string Find(string stem)
        {
            foreach (var candidate in new[] { stem, stem + ".gz", stem.Replace("-idx", ".idx"), stem.Replace("-idx", ".idx") + ".gz" })
            {
                var path = Path.Combine(directory, candidate);
                if (File.Exists(path)) return path;
            }
            throw new FileNotFoundException($"{name}: '{stem}' (or .gz) not found in {directory}. {provider}", Path.Combine(directory, stem));
        }
        var train = Read(Find("train-images-idx3-ubyte"), Find("train-labels-idx1-ubyte"), name + "-train");
        var test = Read(Find("t10k-images-idx3-ubyte"), Find("t10k-labels-idx1-ubyte"), name + "-test");
        return new DataSplit(train, test);
    }

    /// <summary>Reads one images file and its labels file.</summary>
    /// <exception cref="InvalidDataException">Bad magic number, wrong dimensions, truncated data or label/image count mismatch; names the file.</exception>
    public static ImageDataset Read(string imagesPath, string labelsPath, string name)
    {
        var images = ReadAll(imagesPath);
        var labels = ReadAll(labelsPath);
        if (images.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(images) != 0x00000803)
            throw new InvalidDataException($"{imagesPath}: not an IDX image file (magic 0x00000803 expected).");
        if (labels.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(labels) != 0x00000801)
            throw new InvalidDataException($"{labelsPath}: not an IDX label file (magic 0x00000801 expected).");
        int n = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        int h = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8));
        int w = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        int nl = BinaryPrimitives.ReadInt32BigEndian(labels.AsSpan(4));
        if (n <= 0 || h <= 0 || w <= 0 || h > 4096 || w > 4096) throw new InvalidDataException($"{imagesPath}: invalid dimensions {n}x{h}x{w}.");
        if (images.Length < 16 + (long)n * h * w) throw new InvalidDataException($"{imagesPath}: truncated: {images.Length - 16} pixel bytes for {n} images of {h}x{w}.");
        if (nl != n) throw new InvalidDataException($"{labelsPath}: {nl} labels for {n} images in {imagesPath}.");
        if (labels.Length < 8 + n) throw new InvalidDataException($"{labelsPath}: truncated: {labels.Length - 8} of {n} labels.");
        var pixels = new float[(long)n * h * w];
        for (long i = 0; i < pixels.Length; i++) pixels[i] = images[16 + i] / 255f;
        var lb = new int[n];
        int classes = 0;
        for (int i = 0; i < n; i++)
        {
            lb[i] = labels[8 + i];
            if (lb[i] > 9) throw new InvalidDataException($"{labelsPath}: label {lb[i]} at index {i} is not a digit class 0..9.");
            classes = Math.Max(classes, lb[i] + 1);
        }
        return new ImageDataset(name, pixels, lb, 1, h, w, 10);
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return File.ReadAllBytes(path);
        try
        {
            using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return ms.ToArray();
        }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: corrupt gzip data ({e.Message}).", e); }
    }

    /// <summary>
    /// Writes an IDX pair (used by tests and by users converting their own data). Each file is written atomically (a temporary
    /// file flushed to disk, then renamed), so a failed write leaves the previous file, never half of one.
    /// </summary>
    public static void Write(ImageDataset data, string imagesPath, string labelsPath)
    {
        ArgumentNullException.ThrowIfNull(data);
        AtomicFile.Write(imagesPath, f =>
        {
            Span<byte> head = stackalloc byte[16];
            BinaryPrimitives.WriteInt32BigEndian(head, 0x803);
            BinaryPrimitives.WriteInt32BigEndian(head[4..], data.Count);
            BinaryPrimitives.WriteInt32BigEndian(head[8..], data.Height);
            BinaryPrimitives.WriteInt32BigEndian(head[12..], data.Width);
            f.Write(head);
            f.Write(data.Pixels.Select(p => (byte)Math.Clamp(MathF.Round(p * 255f), 0, 255)).ToArray());
        });
        AtomicFile.Write(labelsPath, f =>
        {
            Span<byte> head = stackalloc byte[8];
            BinaryPrimitives.WriteInt32BigEndian(head, 0x801);
            BinaryPrimitives.WriteInt32BigEndian(head[4..], data.Count);
            f.Write(head);
            f.Write(data.Labels.Select(l => (byte)l).ToArray());
        });
    }
}
