namespace WeightSpace.MLNet;

/// <summary>A zoo on disk is missing, corrupt, truncated, of an unknown format or inconsistent.</summary>
public sealed class ZooFormatException : IOException
{
    /// <summary>Creates the exception; <paramref name="path"/> names the offending file or directory.</summary>
    public ZooFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
    }

    /// <summary>The file or directory with the problem.</summary>
    public string Path { get; }
}
