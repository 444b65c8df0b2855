namespace WeightSpace.MLNet;

/// <summary>
/// An output folder that a tool of this library may write into: one it created, one that was empty, or one that a
/// tool of this library marked as its own earlier (a <c>.weightspace-output</c> file naming the tool). Anything else —
/// a folder that already holds somebody's files — is refused before a byte is written, so no tool of this library
/// ever overwrites or deletes files it did not write. The claim is held until <see cref="Dispose"/> (or the process
/// ends): an exclusive lock on <c>.weightspace-output.lock</c>, so a second run on the same folder is refused at once,
/// naming the process that holds it.
/// </summary>
/// <example><code>
/// using var folder = OwnedFolder.Claim("quickstart-out", "Quickstart");   // throws if it is a non-empty foreign folder
/// File.WriteAllText(folder.PathOf("results.md"), table);
/// </code></example>
public sealed class OwnedFolder : IDisposable
{
    /// <summary>Name of the marker file that makes a folder ours.</summary>
    public const string MarkerFile = ".weightspace-output";

    /// <summary>Name of the lock file held while a tool writes into the folder.</summary>
    public const string LockFile = ".weightspace-output.lock";

    private readonly FileStream _lock;

    private OwnedFolder(string path, string owner, FileStream @lock) { Path = path; Owner = owner; _lock = @lock; }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>The tool that claimed it.</summary>
    public string Owner { get; }

    /// <summary>A path inside the folder.</summary>
    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a text file into the folder atomically (a crash leaves the old file or the new one, never half of one).</summary>
    public void WriteText(string name, string text) => AtomicFile.WriteAllText(PathOf(name), text);

    /// <summary>Creates the folder, or takes an empty one, or re-opens one a tool of this library marked; holds it until disposed.</summary>
    /// <exception cref="IOException">The folder holds files and no marker, or another process holds it; nothing is written.</exception>
    public static OwnedFolder Claim(string path, string owner)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        EnsureNotForeign(path);
        Directory.CreateDirectory(path);
        var lockPath = System.IO.Path.Combine(path, LockFile);
        FileStream fs;
        // Creating and locking the lock file is one step: of two runs that get here at once, exactly one holds it.
        try { fs = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"'{path}' is held by {Holder(path)}; wait for it to finish, stop it, or choose another folder (nothing was written).", e);
        }
        try
        {
            var args = Environment.GetCommandLineArgs();
            AtomicFile.WriteAllText(System.IO.Path.Combine(path, MarkerFile),
                $"This folder was created by {owner} (WeightSpace.MLNet); its tools may write here again.\n" +
                $"held by pid {Environment.ProcessId} ({owner}: {System.IO.Path.GetFileName(args.FirstOrDefault() ?? "?")} {string.Join(' ', args.Skip(1).Take(6))}) since {DateTime.Now:yyyy-MM-dd HH:mm:ss}\n");
            return new OwnedFolder(path, owner, fs);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Throws unless <paramref name="path"/> is absent, empty, marked by a tool of this library, or holds only files whose
    /// names <paramref name="ours"/> accepts (for example a zoo's own files): the check every tool makes before it writes into
    /// a folder it did not create.
    /// </summary>
    /// <exception cref="IOException">A file where a folder is wanted, or a folder with someone else's files in it.</exception>
    public static void EnsureNotForeign(string path, Func<string, bool>? ours = null)
    {
        if (File.Exists(path))
            throw new IOException($"'{path}' is a file, not a folder; choose a new folder for the output (nothing was written).");
        if (!Directory.Exists(path) || File.Exists(System.IO.Path.Combine(path, MarkerFile))) return;
        var foreign = Directory.EnumerateFileSystemEntries(path).Select(System.IO.Path.GetFileName)
            .FirstOrDefault(n => n is not null && n != LockFile && !(ours?.Invoke(n) ?? false));
        if (foreign is not null)
            throw new IOException($"'{path}' already holds files that no WeightSpace.MLNet tool wrote (e.g. '{foreign}'); choose a new or empty folder " +
                "(nothing was written, nothing was deleted).");
    }

    private static string Holder(string path)
    {
        try
        {
            return File.ReadLines(System.IO.Path.Combine(path, MarkerFile)).FirstOrDefault(l => l.StartsWith("held by ", StringComparison.Ordinal))?["held by ".Length..]
                ?? "another process";
        }
        catch (IOException) { return "another process"; }
    }

    /// <summary>Releases the folder (the marker stays: a tool of this library may write here again).</summary>
    public void Dispose() => _lock.Dispose();
}
