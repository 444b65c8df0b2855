namespace WeightSpace.MLNet;

/// <summary>
/// An output folder that a tool of this library may write into: one it created, one that was empty, or one that a
/// tool of this library marked as its own earlier (a <c>.weightspace-output</c> file naming the tool). Anything else —
/// a folder that already holds somebody's files — is refused before a byte is written, so no tool of this library
/// ever overwrites or deletes files it did not write.
/// </summary>
/// <example><code>
/// var folder = OwnedFolder.Claim("quickstart-out", "Quickstart");   // throws if it is a non-empty foreign folder
/// File.WriteAllText(folder.PathOf("results.md"), table);
/// </code></example>
public sealed class OwnedFolder
{
    /// <summary>Name of the marker file that makes a folder ours.</summary>
    public const string MarkerFile = ".weightspace-output";

    private OwnedFolder(string path, string owner) { Path = path; Owner = owner; }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>The tool that claimed it.</summary>
    public string Owner { get; }

    /// <summary>A path inside the folder.</summary>
    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a text file into the folder atomically (a crash leaves the old file or the new one, never half of one).</summary>
    public void WriteText(string name, string text) => AtomicFile.WriteAllText(PathOf(name), text);

    /// <summary>Creates the folder, or takes an empty one, or re-opens one a tool of this library marked.</summary>
    /// <exception cref="IOException">The folder holds files and no marker; nothing is written.</exception>
    public static OwnedFolder Claim(string path, string owner)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        if (File.Exists(path))
            throw new IOException($"'{path}' is a file, not a folder; choose a new folder for the output (nothing was written).");
        var marker = System.IO.Path.Combine(path, MarkerFile);
        if (Directory.Exists(path))
        {
            if (File.Exists(marker)) return new OwnedFolder(path, owner);
            if (Directory.EnumerateFileSystemEntries(path).Any())
                throw new IOException($"'{path}' already holds files that no WeightSpace.MLNet tool wrote; choose a new or empty folder " +
                    "(nothing was written, nothing was deleted).");
        }
        Directory.CreateDirectory(path);
        File.WriteAllText(marker, $"This folder was created by {owner} (WeightSpace.MLNet); its tools may write here again.\n");
        return new OwnedFolder(path, owner);
    }
}
