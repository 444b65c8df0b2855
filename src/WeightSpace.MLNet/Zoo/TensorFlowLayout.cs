using System.Globalization;
using System.Text.RegularExpressions;

namespace WeightSpace.MLNet;

/// <summary>
/// The <c>layout.csv</c> of Unterthiner et al.'s Small CNN Zoo (google-research/dnn_predict_accuracy): one row per
/// TensorFlow variable — <c>varname</c>, <c>start_idx</c>, <c>end_idx</c>, <c>shape</c> — saying which columns of
/// <c>weights.npy</c> hold it. Kernels are TensorFlow-ordered ([kh, kw, in, out] for a convolution, [in, out] for a dense
/// layer); this maps a row to the layout's order ([out, in, kh, kw], out-major, then the bias), layer by layer in the
/// order of the kernels' columns.
/// </summary>
internal sealed class TensorFlowLayout
{
    public const string FileName = "layout.csv";

    private readonly (int Start, long[] Shape, int BiasStart)[] _layers;

    private TensorFlowLayout(WeightLayout layout, (int, long[], int)[] layers) { Layout = layout; _layers = layers; }

    /// <summary>The layout the variables make (a built-in one when the shapes match, CNN-4970 for the Small CNN Zoo).</summary>
    public WeightLayout Layout { get; }

    /// <summary>Reads <paramref name="path"/>; null when there is no such file.</summary>
    /// <exception cref="ZooFormatException">A malformed file, variables that overlap, leave columns out or fit no layer, or shapes other than <paramref name="expected"/>'s.</exception>
    public static TensorFlowLayout? Read(string path, long columns, WeightLayout? expected)
    {
        if (!File.Exists(path)) return null;
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count < 2) throw new ZooFormatException(path, "no variables listed.");
        var header = NumpyZoo.SplitCsv(lines[0]).Select(h => h.Trim().ToLowerInvariant()).ToList();
        int iName = header.IndexOf("varname"), iStart = header.IndexOf("start_idx"), iEnd = header.IndexOf("end_idx"), iShape = header.IndexOf("shape");
        if (iName < 0 || iStart < 0 || iEnd < 0 || iShape < 0) throw new ZooFormatException(path, $"the header is {lines[0]}; varname, start_idx, end_idx and shape are expected.");
        var vars = new List<(string Name, int Start, int End, long[] Shape)>();
        foreach (var (line, row) in lines.Skip(1).Select((l, i) => (l, i + 2)))
        {
            var c = NumpyZoo.SplitCsv(line);
            if (c.Count != header.Count) throw new ZooFormatException(path, $"row {row} has {c.Count} cells, the header {header.Count}.");
            var shape = Regex.Matches(c[iShape], @"\d+").Select(m => long.Parse(m.Value, CultureInfo.InvariantCulture)).ToArray();
            if (!int.TryParse(c[iStart], out var start) || !int.TryParse(c[iEnd], out var end) || end < start || end > columns
                || shape.Length == 0 || shape.Aggregate(1L, (a, b) => a * b) != end - start)
                throw new ZooFormatException(path, $"row {row} ('{c[iName]}'): columns {c[iStart]}..{c[iEnd]} and shape {c[iShape]} do not agree with each other or with the {columns} columns of weights.npy.");
            vars.Add((c[iName].Trim(), start, end, shape));
        }
        var covered = vars.OrderBy(v => v.Start).ToList();
        for (int i = 0; i < covered.Count; i++)
            if (covered[i].Start != (i == 0 ? 0 : covered[i - 1].End))
                throw new ZooFormatException(path, $"the variables do not cover the {columns} columns once each (a gap or overlap at column {covered[i].Start}, '{covered[i].Name}').");
        if (covered[^1].End != columns) throw new ZooFormatException(path, $"the variables end at column {covered[^1].End}, weights.npy has {columns}.");

        static string Module(string varname) => varname.Contains('/') ? varname[..varname.LastIndexOf('/')] : varname;
        static string Kind(string varname) => varname[(varname.LastIndexOf('/') + 1)..].Split(':')[0];
        var kernels = vars.Where(v => Kind(v.Name) == "kernel").OrderBy(v => v.Start).ToList();
        var stray = vars.FirstOrDefault(v => Kind(v.Name) is not ("kernel" or "bias"));
        if (stray.Name is not null)
            throw new ZooFormatException(path, $"'{stray.Name}' is neither a kernel nor a bias; only dense and 2-D convolution layers are supported (no batch norm yet).");
        var specs = new List<LayerSpec>();
        var layers = new List<(int, long[], int)>();
        foreach (var k in kernels)
        {
            var bias = vars.Where(v => Kind(v.Name) == "bias" && Module(v.Name) == Module(k.Name)).Select(v => (int?)v.Start).FirstOrDefault();
            var s = k.Shape;
            int outUnits = checked((int)s[^1]);
            if (s.Length == 4) specs.Add(new LayerSpec(Module(k.Name), LayerKind.Conv2d, checked((int)s[2]), outUnits, checked((int)s[0]), checked((int)s[1]), bias is not null));
            else if (s.Length == 2) specs.Add(new LayerSpec(Module(k.Name), LayerKind.Linear, checked((int)s[0]), outUnits, HasBias: bias is not null));
            else throw new ZooFormatException(path, $"'{k.Name}' has shape ({string.Join(", ", s)}); a dense kernel is 2-D, a convolution's 4-D.");
            layers.Add((k.Start, s, bias ?? -1));
        }
        for (int l = 1; l < specs.Count; l++)
            if (specs[l].Kind == LayerKind.Linear && specs[l - 1].Kind == LayerKind.Conv2d && specs[l].InFeatures != specs[l - 1].OutFeatures)
                throw new ZooFormatException(path, $"dense layer '{specs[l].Name}' takes {specs[l].InFeatures} inputs after '{specs[l - 1].Name}' gives {specs[l - 1].OutFeatures} " +
                    "channels: a TensorFlow flatten (channels-last) would need its inputs reordered, which is not supported; global pooling before it is.");
        if (vars.Count(v => Kind(v.Name) == "bias") != layers.Count(l => l.Item3 >= 0))
            throw new ZooFormatException(path, "a bias has no kernel of the same layer.");
        WeightLayout layout;
        try
        {
            layout = WeightLayout.BuiltIn.Values.FirstOrDefault(b => LayerSpec.SameShapes(b.Layers, specs))
                     ?? new WeightLayout($"imported-{string.Join("-", specs.Select(l => l.OutFeatures))}", specs);
        }
        catch (ArgumentException e) { throw new ZooFormatException(path, $"the layers do not chain in column order ({e.Message})."); }
        if (expected is not null && !(expected.ParameterCount == layout.ParameterCount && expected.Layers.Count == layout.Layers.Count
                && expected.Layers.Zip(layout.Layers).All(p => p.First.Kind == p.Second.Kind && p.First.FanIn == p.Second.FanIn && p.First.OutFeatures == p.Second.OutFeatures)))
            throw new ZooFormatException(path, $"its variables make {layout}, not the layout given, {expected}.");
        return new TensorFlowLayout(expected ?? layout, layers.ToArray());
    }

    /// <summary>One weights.npy row, moved into the layout's order.</summary>
    public float[] ToLayoutOrder(ReadOnlySpan<float> row)
    {
        var w = new float[Layout.ParameterCount];
        for (int l = 0; l < _layers.Length; l++)
        {
            var (start, s, biasStart) = _layers[l];
            int o = Layout.WeightOffset(l);
            if (s.Length == 4)
            {
                int kh = (int)s[0], kw = (int)s[1], cin = (int)s[2], cout = (int)s[3];
                for (int u = 0; u < kh; u++)
                    for (int v = 0; v < kw; v++)
                        for (int ci = 0; ci < cin; ci++)
                            for (int co = 0; co < cout; co++)
                                w[o + ((co * cin + ci) * kh + u) * kw + v] = row[start + ((u * kw + v) * cin + ci) * cout + co];
            }
            else
            {
                int cin = (int)s[0], cout = (int)s[1];
                for (int ci = 0; ci < cin; ci++)
                    for (int co = 0; co < cout; co++)
                        w[o + co * cin + ci] = row[start + ci * cout + co];
            }
            if (biasStart >= 0) row.Slice(biasStart, Layout.Layers[l].OutFeatures).CopyTo(w.AsSpan(Layout.BiasOffset(l)));
        }
        return w;
    }
}
