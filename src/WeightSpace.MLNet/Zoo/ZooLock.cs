namespace WeightSpace.MLNet;

/// <summary>
/// One writer at a time per zoo folder: an OS lock (an exclusive advisory lock on <c>.zoo.lock</c>, released by the OS
/// when the process ends, however it ends) held for the life of a <see cref="ZooWriter"/>. The holder records its pid and
/// command in <c>.zoo.writer</c>, so a refused writer can name it. A refused writer touches nothing in the folder.
/// </summary>
internal sealed class ZooLock : IDisposable
{
    public const string LockFile = ".zoo.lock", OwnerFile = ".zoo.writer";
    private readonly FileStream _lock;
    private readonly string _owner;

    private ZooLock(FileStream @lock, string owner) { _lock = @lock; _owner = owner; }

    /// <summary>Takes the folder's lock (creating the folder if needed) or throws naming the holder.</summary>
    /// <exception cref="IOException">Another process (or another writer in this one) holds the folder.</exception>
    public static ZooLock Acquire(string directory)
    {
        Directory.CreateDirectory(directory);
        var lockPath = Path.Combine(directory, LockFile);
        var ownerPath = Path.Combine(directory, OwnerFile);
        FileStream fs;
        try { fs = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            string holder;
            try { holder = File.ReadAllText(ownerPath).Trim(); }
            catch (IOException) { holder = "another process"; }
            throw new IOException($"{directory}: the zoo is being written by {holder}; wait for it to finish or stop it. Nothing was changed.", e);
        }
        var args = Environment.GetCommandLineArgs();
        AtomicFile.WriteAllText(ownerPath, $"pid {Environment.ProcessId} ({Path.GetFileName(args.FirstOrDefault() ?? "?")} {string.Join(' ', args.Skip(1).Take(6))}), since {DateTime.Now:yyyy-MM-dd HH:mm:ss}\n");
        return new ZooLock(fs, ownerPath);
    }

    public void Dispose()
    {
        try { File.Delete(_owner); } catch (IOException) { }
        _lock.Dispose();
    }
}
