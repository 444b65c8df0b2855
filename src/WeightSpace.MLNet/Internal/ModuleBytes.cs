using TorchSharp;

namespace WeightSpace.MLNet;

/// <summary>A TorchSharp module's parameters as bytes (its <c>save</c> format) and back, for the library's model files and for copying a trained encoder.</summary>
internal static class ModuleBytes
{
    public static byte[] Of(torch.nn.Module module)
    {
        using var ms = new MemoryStream();
        using (var writer = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) module.save(writer);
        return ms.ToArray();
    }

    /// <summary>Loads <paramref name="bytes"/> into <paramref name="module"/>; every parameter must match by name and shape.</summary>
    public static void Into(torch.nn.Module module, byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        module.load(reader, strict: true);
    }

    /// <summary>The whole content of a zip entry.</summary>
    public static byte[] ReadEntry(System.IO.Compression.ZipArchiveEntry entry)
    {
        using var ms = new MemoryStream();
        using (var s = entry.Open()) s.CopyTo(ms);
        return ms.ToArray();
    }
}
