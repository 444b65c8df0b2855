using System.IO.Compression;
using System.IO.Hashing;
using System.Text;

namespace WeightSpace.MLNet;

/// <summary>
/// The saved files of this library (<c>.wsemb</c>, <c>.wsmodel</c>, transformer files) are zips whose every byte is
/// covered by one checksum, checked before anything in them is parsed. The zip's comment — the last bytes of the file —
/// is <c>wsmlnet-xxh3:</c> and 16 hex digits: XxHash3 of every byte before the comment. A flipped bit anywhere (an entry,
/// a zip header, the central directory, the checksum itself) is named as damage instead of loading changed numbers, or
/// reaching a parser that hangs or fails with an unrelated error (.NET's ZipArchive does not check CRC-32). Files saved
/// before the seal (an empty zip comment) still load; they are covered only by the checksums they carry inside.
/// </summary>
internal static class SealedZip
{
    private const string Prefix = "wsmlnet-xxh3:";
    private static readonly int SealLength = Prefix.Length + 16;
    private static readonly string Placeholder = Prefix + new string('0', 16);

    /// <summary>Writes a zip built by <paramref name="build"/> into <paramref name="destination"/>, sealed.</summary>
    public static void Write(Stream destination, Action<ZipArchive> build)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            build(zip);
            zip.Comment = Placeholder;
        }
        var bytes = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        if (!bytes[^SealLength..].SequenceEqual(Encoding.ASCII.GetBytes(Placeholder)))
            throw new InvalidOperationException("The zip comment is not the last bytes of the archive; the seal cannot be written.");
        ulong hash = XxHash3.HashToUInt64(bytes[..^SealLength]);
        Encoding.ASCII.GetBytes(Prefix + hash.ToString("x16")).CopyTo(bytes[^SealLength..]);
        destination.Write(bytes);
    }

    /// <summary>
    /// Reads the rest of <paramref name="source"/>, checks its seal and returns the bytes, ready to open as a zip.
    /// </summary>
    /// <exception cref="InvalidDataException">The checksum does not match, or the file ends neither in a seal nor in an
    /// unsealed zip of an earlier version: the message names <paramref name="name"/> and says the file is damaged.</exception>
    public static MemoryStream ReadVerified(Stream source, string name)
    {
        var ms = new MemoryStream();
        source.CopyTo(ms);
        var bytes = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        Verify(bytes, name);
        ms.Position = 0;
        return ms;
    }

    /// <summary>
    /// Verifies the seal, opens the zip and runs <paramref name="read"/> on it; whatever the zip or its parsers throw on a
    /// damaged file comes out as an <see cref="InvalidDataException"/> that starts with <paramref name="name"/> and says
    /// the <paramref name="what"/> file is truncated or corrupt (the one error type every loader of the library promises).
    /// </summary>
    public static T Read<T>(Stream source, string name, string what, Func<ZipArchive, T> read)
    {
        try
        {
            using var verified = ReadVerified(source, name); // every byte checked before anything is parsed
            using var zip = new ZipArchive(verified, ZipArchiveMode.Read);
            return read(zip);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(name, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{name}: the file is truncated or corrupt ({e.Message}).", e);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or IOException or NotSupportedException or ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{name}: the {what} file is truncated or corrupt ({e.Message}).", e);
        }
    }

    /// <summary>Checks the seal of a whole file's bytes (see <see cref="ReadVerified"/>).</summary>
    public static void Verify(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length >= SealLength + 22 && bytes[^SealLength..^16].SequenceEqual(Encoding.ASCII.GetBytes(Prefix)))
        {
            var stored = Encoding.ASCII.GetString(bytes[^16..]);
            var actual = XxHash3.HashToUInt64(bytes[..^SealLength]).ToString("x16");
            if (stored != actual)
                throw new InvalidDataException($"{name}: checksum mismatch (stored {stored}, computed {actual}); the file is damaged. Save it again or restore a copy.");
            return;
        }
        // An unsealed zip of an earlier version ends in its end-of-central-directory record with an empty comment.
        if (bytes.Length >= 22 && bytes[^22..^18].SequenceEqual(new byte[] { 0x50, 0x4b, 0x05, 0x06 }) && bytes[^2] == 0 && bytes[^1] == 0)
            return;
        throw new InvalidDataException(bytes.Length < 22
            ? $"{name}: {bytes.Length} bytes, too short for a saved model; the file is damaged or truncated."
            : $"{name}: the checksum at the end of the file is missing or broken; the file is damaged or truncated. Save it again or restore a copy.");
    }
}
