namespace WeightSpace.MLNet;

/// <summary>Writes that never leave a half-written file under the final name.</summary>
internal static class AtomicFile
{
    /// <summary>What every temporary name carries between the final name and its unique part.</summary>
    public const string TempMarker = ".tmp-";

    /// <summary>
    /// A temporary name beside <paramref name="path"/> that only this call can have: the final name, ".tmp-", this process's
    /// id and 8 random hex digits. Another process or another call of this one never gets the same name, so a writer never
    /// overwrites or deletes a file it did not create.
    /// </summary>
    public static string TempPathFor(string path) =>
        path + TempMarker + Environment.ProcessId + "-" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();

    public static void WriteAllText(string path, string text)
    {
        var tmp = TempPathFor(path);
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var w = new StreamWriter(fs))
        {
            w.Write(text);
            w.Flush();
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Writes through <paramref name="write"/> into a temporary file, flushes it to disk and renames it into place; no partial file is left on failure.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var tmp = TempPathFor(full);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Renames a finished temporary file into place.</summary>
    public static void Commit(string tmp, string path) => File.Move(tmp, path, overwrite: true);
}
