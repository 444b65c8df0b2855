// The Debian 12 fix for TorchSharp's native library, in one place for its two users:
// - the MSBuild task WeakenGlibcxxRequirement (build/WeakenTorchSharpGlibcxx.targets, compiled by RoslynCodeTaskFactory;
//   also shipped in the package), which patches the copy in a build or publish output, and
// - the library itself (compiled into WeightSpace.MLNet with WEIGHTSPACE_RUNTIME defined), which patches the copy beside
//   an app that was built without those targets (a ProjectReference from outside this repository) before TorchSharp
//   loads it (TorchSharpNatives).
//
// TorchSharp 0.107's libLibTorchSharp.so lists GLIBCXX_3.4.32 (GCC 13) among its symbol-version
// requirements, but the only symbol bound to it, std::ios_base_library_init(), is never called
// (GCC 13 emits it as a bare .globl with no relocation). Debian 12 ships GLIBCXX_3.4.30, so the
// dynamic loader refuses the library. Marking that one Vernaux entry VER_FLG_WEAK makes a missing
// version a non-fatal condition for ld.so; nothing else in the file changes.
//
// Only the copy beside an app is touched (never the NuGet cache: a new file is renamed over the copy), nothing is done
// when the machine's libstdc++ already defines the version, and patching is idempotent.
using System;
using System.IO;
using System.Text;
#if !WEIGHTSPACE_RUNTIME
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenGlibcxxRequirement : Task
{
    [Required] public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux)) return true;
        if (GlibcxxRequirement.SystemLibstdcxxHas(GlibcxxRequirement.Version))
        {
            Log.LogMessage(MessageImportance.Low, "libstdc++ provides " + GlibcxxRequirement.Version + "; TorchSharp natives left as shipped.");
            return true;
        }
        foreach (var item in Libraries)
        {
            var path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                var result = GlibcxxRequirement.WeakenFile(path);
                if (result == null) Log.LogMessage(MessageImportance.Low, path + ": no " + GlibcxxRequirement.Version + " requirement.");
                else if (result == true) Log.LogMessage(MessageImportance.High, "TorchSharp on an older libstdc++: marked the " + GlibcxxRequirement.Version + " requirement of " + path + " weak.");
            }
            catch (Exception e)
            {
                Log.LogWarning("Could not patch " + path + " for an older libstdc++: " + e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif

/// <summary>The ELF patch: the GLIBCXX_3.4.32 requirement of libLibTorchSharp.so marked weak.</summary>
internal static class GlibcxxRequirement
{
    public const string Version = "GLIBCXX_3.4.32";
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>
    /// Marks the requirement of the file at <paramref name="path"/> weak: a new file renamed over it (never a write
    /// through a hard link into the NuGet cache). null: no such requirement; false: already weak; true: patched.
    /// </summary>
    public static bool? WeakenFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = Weaken(bytes, Version);
        if (result != true) return result;
        // A name only this call has (the task factory compiles against netstandard: no Environment.ProcessId).
        var tmp = path + ".weak.tmp-" + System.Diagnostics.Process.GetCurrentProcess().Id + "-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Replace(tmp, path, null); // a rename: the old inode (maybe the NuGet cache's) is untouched
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
        return true;
    }

    public static bool SystemLibstdcxxHas(string version)
    {
        string[] dirs = { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/usr/local/lib64", "/usr/local/lib" };
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (var d in dirs)
        {
            var f = Path.Combine(d, "libstdc++.so.6");
            if (!File.Exists(f)) continue;
            var data = File.ReadAllBytes(f);
            return IndexOf(data, needle) >= 0;
        }
        return false;
    }

    private static int IndexOf(byte[] data, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= data.Length; i++)
        {
            if (data[i] != needle[0]) continue;
            int j = 1;
            while (j < needle.Length && data[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    /// <summary>null: no such requirement; false: already weak; true: patched in place.</summary>
    public static bool? Weaken(byte[] elf, string version)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF is supported");
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int off = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int strOff = checked((int)BitConverter.ToUInt64(elf, (int)shoff + link * shentsize + 0x18));
            int vn = off;
            while (true)
            {
                int cnt = BitConverter.ToUInt16(elf, vn + 2);
                int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    int name = strOff + (int)BitConverter.ToUInt32(elf, aux + 8);
                    int end = Array.IndexOf(elf, (byte)0, name);
                    if (Encoding.ASCII.GetString(elf, name, end - name) == version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0) return false;
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                        return true;
                    }
                    uint next = BitConverter.ToUInt32(elf, aux + 12);
                    if (next == 0) break;
                    aux += (int)next;
                }
                uint vnNext = BitConverter.ToUInt32(elf, vn + 12);
                if (vnNext == 0) break;
                vn += (int)vnNext;
            }
        }
        return null;
    }
}
