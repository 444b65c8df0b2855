namespace WeightSpace.MLNet.Bench;

/// <summary>The benches' "--name value" pairs after the command word, by name without the dashes.</summary>
internal static class BenchArgs
{
    public static Dictionary<string, string> Pairs(string[] args)
    {
        var a = new Dictionary<string, string>();
        for (int i = 1; i + 1 < args.Length; i += 2) a[args[i].TrimStart('-')] = args[i + 1];
        return a;
    }
}
