namespace WeightSpace.MLNet;

/// <summary>File sizes as a reader sees them: a symbolic link counts as the file it points to, not as the link itself.</summary>
internal static class FileLength
{
    /// <summary>The size of <paramref name="path"/>'s final target (the file itself when it is no link).</summary>
    /// <exception cref="FileNotFoundException">The file, or the target of the link, does not exist.</exception>
    public static long Of(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
            if (target is null || !target.Exists) throw new FileNotFoundException($"{path}: a symbolic link whose target does not exist.", path);
            return target.Length;
        }
        return info.Length;
    }
}
