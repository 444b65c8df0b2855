namespace WeightSpace.MLNet;

/// <summary>
/// Weight vectors in memory for training or validating a hyper-representation: <see cref="Rows"/> rows of the layout's
/// length, row-major, plus optional numeric labels by name (one value per row) for the validation probe.
/// </summary>
/// <param name="Weights">Rows × parameters, row-major.</param>
/// <param name="Rows">Number of rows.</param>
/// <param name="Labels">Label columns by name, each of length <paramref name="Rows"/>.</param>
public sealed record RepresentationData(float[] Weights, int Rows, IReadOnlyDictionary<string, float[]> Labels)
{
    /// <summary>Rows without labels.</summary>
    public RepresentationData(float[] weights, int rows) : this(weights, rows, new Dictionary<string, float[]>()) { }

    /// <summary>Reads a view's weight column (and the named numeric label columns) into memory.</summary>
    /// <example><code>var train = RepresentationData.FromDataView(trainView, WeightLayout.TetrisMlp100, new[] { "TestAccuracy" });</code></example>
    public static RepresentationData FromDataView(Microsoft.ML.IDataView data, WeightLayout layout, IReadOnlyList<string>? labels = null, string column = ZooColumns.Weights)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(layout);
        WeightLayoutAnnotation.CheckColumn(data.Schema, column, layout);
        var weights = Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<float[]>(data, column).ToArray();
        var flat = new float[weights.Length * layout.ParameterCount];
        for (int i = 0; i < weights.Length; i++) weights[i].CopyTo(flat, i * layout.ParameterCount);
        var l = (labels ?? Array.Empty<string>()).ToDictionary(n => n, n => Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<float>(data, n).ToArray());
        return new RepresentationData(flat, weights.Length, l);
    }

    /// <summary>Throws when sizes disagree or a weight is not finite (naming the row and position).</summary>
    public void Check(int parameters, string what)
    {
        if (Rows < 0 || Weights.Length != (long)Rows * parameters)
            throw new ArgumentException($"The {what} weights hold {Weights.Length} values, not {Rows} rows × {parameters} parameters.");
        for (int i = 0; i < Weights.Length; i++)
            if (!float.IsFinite(Weights[i]))
                throw new ArgumentException($"The {what} weights hold {Weights[i]} at row {i / parameters}, position {i % parameters}: a hyper-representation needs finite weights.");
        foreach (var (name, values) in Labels)
            if (values.Length != Rows) throw new ArgumentException($"Label '{name}' of the {what} rows has {values.Length} values, not {Rows}.");
    }
}
