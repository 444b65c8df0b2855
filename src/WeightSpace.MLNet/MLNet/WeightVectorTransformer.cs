using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>
/// Base of the transformers that add one fixed-size float vector column computed from a weight column
/// (augmentation, s(W), per-layer standardisation). Row-to-row and lazy: rows are mapped as a cursor
/// reaches them, and <c>CreatePredictionEngine</c> works.
/// </summary>
public abstract class WeightVectorTransformer : ITransformer
{
    private protected WeightVectorTransformer(string outputColumnName, string inputColumnName, WeightLayout layout, int outputSize)
    {
        if (string.IsNullOrWhiteSpace(outputColumnName)) throw new ArgumentException("The output column needs a name.", nameof(outputColumnName));
        if (string.IsNullOrWhiteSpace(inputColumnName)) throw new ArgumentException("The input column needs a name.", nameof(inputColumnName));
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
        OutputSize = outputSize;
    }

    /// <summary>Name of the added column.</summary>
    public string OutputColumnName { get; }
    /// <summary>Name of the weight column read.</summary>
    public string InputColumnName { get; }
    /// <summary>Layout of the weight vectors.</summary>
    public WeightLayout Layout { get; }
    /// <summary>Length of the added vector.</summary>
    public int OutputSize { get; }
    /// <summary>What a NaN or ∞ in the input column does (default: an error naming the row and position).</summary>
    public NonFiniteWeights NonFinite { get; internal set; } = NonFiniteWeights.Error;

    internal abstract VectorColumnMapper CreateMapper();

    /// <summary>The added column is a Single rather than a vector (a regression's Score; <see cref="OutputSize"/> is 1).</summary>
    private protected virtual bool ScalarOutput => false;

    /// <summary>
    /// A second added column, when set: the key (1-based) of the largest value of the output vector — a classifier's
    /// PredictedLabel next to its Score — with the categories as its key values.
    /// </summary>
    private protected virtual (string Name, IReadOnlyList<string> Classes)? PredictedLabel => null;

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        WeightLayoutAnnotation.CheckColumn(inputSchema, InputColumnName, Layout);
        var b = new DataViewSchema.Builder();
        b.AddColumns(inputSchema);
        b.AddColumn(OutputColumnName, ScalarOutput ? NumberDataViewType.Single : new VectorDataViewType(NumberDataViewType.Single, OutputSize));
        if (PredictedLabel is var (name, classes))
        {
            var names = classes.Select(c => c.AsMemory()).ToArray();
            var annotations = new DataViewSchema.Annotations.Builder();
            annotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, names.Length),
                (ref VBuffer<ReadOnlyMemory<char>> v) => v = new VBuffer<ReadOnlyMemory<char>>(names.Length, names));
            b.AddColumn(name, new KeyDataViewType(typeof(uint), names.Length), annotations.ToAnnotations());
        }
        return b.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new MappedDataView(this, input);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new RowMapper(this, inputSchema);

    /// <summary>
    /// Not supported: ML.NET's model format is closed to third-party transformers. Save a whole fitted chain with
    /// <c>mlContext.Model.SaveWeightSpace(model, schema, path)</c>, or this transformer alone with <see cref="Save(string)"/>.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException($"{GetType().Name} cannot be written into an ML.NET model zip (ML.NET keeps that format internal). " +
            "Save the fitted chain with mlContext.Model.SaveWeightSpace(model, inputSchema, path) and load it with mlContext.Model.LoadWeightSpace(path, out schema).");

    internal abstract string Kind { get; }

    /// <summary>The same transformer with another non-finite policy.</summary>
    internal WeightVectorTransformer WithNonFinite(NonFiniteWeights policy)
    {
        var copy = (WeightVectorTransformer)MemberwiseClone();
        copy.NonFinite = policy;
        return copy;
    }

    /// <summary>Saves the fitted transformer (layout, column names, fitted parameters) to a file, atomically.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.Write(path, Save);
    }

    /// <summary>Saves the fitted transformer to a stream.</summary>
    public void Save(Stream stream) => TransformerFile.Save(this, stream);

    /// <summary>Loads a transformer saved with <see cref="Save(string)"/>.</summary>
    /// <exception cref="InvalidDataException">Missing, truncated, corrupt or newer file; the message names it.</exception>
    public static WeightVectorTransformer Load(MLContext ml, string path)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such file.");
        using var fs = File.OpenRead(path);
        return TransformerFile.Load(fs, path);
    }

    private sealed class MappedDataView : IDataView
    {
        private readonly WeightVectorTransformer _parent;
        private readonly IDataView _input;
        private readonly DataViewSchema.Column _source;
        private readonly bool _batched;

        public MappedDataView(WeightVectorTransformer parent, IDataView input)
        {
            _parent = parent;
            _input = input;
            Schema = parent.GetOutputSchema(input.Schema);
            _source = input.Schema[parent.InputColumnName];
            _batched = parent.CreateMapper().BatchSize > 1;
        }

        public bool CanShuffle => !_batched && _input.CanShuffle;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _input.GetRowCount();

        private IEnumerable<DataViewSchema.Column> InputColumns(IEnumerable<DataViewSchema.Column> needed, out bool outputNeeded)
        {
            int added = _input.Schema.Count;
            var list = new List<DataViewSchema.Column>();
            outputNeeded = false;
            foreach (var c in needed)
            {
                if (c.Index >= added) outputNeeded = true;
                else list.Add(_input.Schema[c.Index]);
            }
            if (outputNeeded && !list.Any(c => c.Index == _source.Index)) list.Add(_source);
            return list;
        }

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var inputCols = InputColumns(columnsNeeded, out bool outputNeeded);
            if (!_batched) return new MappedCursor(_parent, Schema, _input.GetRowCursor(inputCols, rand), _source, outputNeeded, null);
            // Batched: a second cursor reads ahead over the same rows, so both must enumerate them in one fixed order (no shuffling).
            return new MappedCursor(_parent, Schema, _input.GetRowCursor(inputCols), _source, outputNeeded, () => _input.GetRowCursor(new[] { _source }));
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            if (_batched) return new[] { GetRowCursor(columnsNeeded, rand) };
            var inputCols = InputColumns(columnsNeeded, out bool outputNeeded);
            return _input.GetRowCursorSet(inputCols, n, rand)
                .Select(c => (DataViewRowCursor)new MappedCursor(_parent, Schema, c, _source, outputNeeded, null)).ToArray();
        }
    }

    /// <summary>
    /// Shared logic of the cursor and the prediction-engine row: input getters forwarded, output computed once per position.
    /// A mapper that wants blocks (<see cref="VectorColumnMapper.BatchSize"/> &gt; 1) gets them from a second cursor over the
    /// same input that runs ahead of this one; both enumerate the same rows in the same order, so the block's outputs are
    /// served by position while pass-through columns stay in step.
    /// </summary>
    private sealed class OutputComputer
    {
        private readonly WeightVectorTransformer _parent;
        private readonly DataViewRow _row;
        private readonly bool _active;
        private readonly VectorColumnMapper _mapper;
        private readonly ValueGetter<VBuffer<float>>? _inputGetter;
        private readonly Func<DataViewRowCursor>? _openAhead;
        private DataViewRowCursor? _ahead;
        private ValueGetter<VBuffer<float>>? _aheadGetter;
        private bool _aheadDone;
        private VBuffer<float> _inputBuffer;
        private readonly float[] _inputs, _outputs;
        private readonly int _p, _o, _batch;
        private long _blockStart = -1;
        private int _blockRows;

        public OutputComputer(WeightVectorTransformer parent, DataViewRow row, DataViewSchema.Column source, bool active, Func<DataViewRowCursor>? openAhead)
        {
            _parent = parent;
            _row = row;
            _active = active;
            _mapper = parent.CreateMapper();
            _p = parent.Layout.ParameterCount;
            _o = parent.OutputSize;
            _openAhead = openAhead;
            _batch = openAhead is null ? 1 : Math.Max(1, _mapper.BatchSize);
            _inputs = new float[_batch * _p];
            _outputs = new float[_batch * _o];
            if (active && _batch == 1) _inputGetter = row.GetGetter<VBuffer<float>>(source);
        }

        public void Get(ref VBuffer<float> dst)
        {
            var values = Current();
            var editor = VBufferEditor.Create(ref dst, _o);
            values.CopyTo(editor.Values);
            dst = editor.Commit();
        }

        private void GetScalar(ref float dst) => dst = Current()[0];

        private void GetKey(ref uint dst) => dst = (uint)WeightSpacePredictor.ArgMax(Current()) + 1;

        /// <summary>The output of the row the cursor is on (computed once per row or block).</summary>
        private ReadOnlySpan<float> Current()
        {
            if (!_active) throw new InvalidOperationException("The output column was not requested.");
            long pos = _row.Position;
            if (pos < 0) throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
            if (pos < _blockStart || pos >= _blockStart + _blockRows)
            {
                if (_batch == 1) { Read(_inputGetter!, pos, 0); _blockRows = 1; }
                else FillBlock(pos);
                _blockStart = pos;
                _mapper.MapBatch(_inputs.AsSpan(0, _blockRows * _p), _blockRows, _outputs.AsSpan(0, _blockRows * _o), pos);
            }
            return _outputs.AsSpan((int)(pos - _blockStart) * _o, _o);
        }

        /// <summary>Moves the read-ahead cursor to <paramref name="pos"/> and reads up to a batch of rows from there.</summary>
        private void FillBlock(long pos)
        {
            if (_ahead is null)
            {
                _ahead = _openAhead!();
                _aheadGetter = _ahead.GetGetter<VBuffer<float>>(_ahead.Schema[_parent.InputColumnName]);
                _aheadDone = !_ahead.MoveNext();
            }
            while (!_aheadDone && _ahead.Position < pos) _aheadDone = !_ahead.MoveNext();
            if (_aheadDone || _ahead.Position != pos)
                throw new InvalidOperationException($"Row {pos} of column '{_parent.InputColumnName}' could not be read ahead: the input did not give the same rows twice.");
            int n = 0;
            do { Read(_aheadGetter!, pos + n, n); n++; }
            while (n < _batch && !(_aheadDone = !_ahead.MoveNext()));
            _blockRows = n;
        }

        private void Read(ValueGetter<VBuffer<float>> getter, long pos, int slot)
        {
            getter(ref _inputBuffer);
            if (_inputBuffer.Length != _p)
                throw new InvalidOperationException($"Row {pos} of column '{_parent.InputColumnName}' has a weight vector of length {_inputBuffer.Length}; layout '{_parent.Layout.Name}' needs {_p}.");
            var dst = _inputs.AsSpan(slot * _p, _p);
            _inputBuffer.CopyTo(dst);
            for (int i = 0; i < dst.Length; i++)
            {
                if (float.IsFinite(dst[i])) continue;
                if (_parent.NonFinite == NonFiniteWeights.Error)
                    throw new InvalidOperationException($"Row {pos} of column '{_parent.InputColumnName}' holds {dst[i]} at position {i}: the weights must be finite. " +
                        $"Drop such rows first (mlContext.Data.FilterNonFiniteWeights) or create the transform with NonFiniteWeights.ReplaceWithZero.");
                dst[i] = 0f;
            }
        }

        /// <summary>The added columns come after the input row's; every other column is the input row's.</summary>
        public bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= _row.Schema.Count ? _active : _row.IsColumnActive(_row.Schema[column.Index]);

        public ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _row.Schema.Count) return _row.GetGetter<TValue>(_row.Schema[column.Index]);
            Delegate g = column.Index > _row.Schema.Count ? (ValueGetter<uint>)GetKey
                : _parent.ScalarOutput ? (ValueGetter<float>)GetScalar : (ValueGetter<VBuffer<float>>)Get;
            return g as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }

        public void Dispose() => _ahead?.Dispose();
    }

    private sealed class MappedCursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor _input;
        private readonly OutputComputer _computer;

        public MappedCursor(WeightVectorTransformer parent, DataViewSchema schema, DataViewRowCursor input, DataViewSchema.Column source, bool outputActive,
            Func<DataViewRowCursor>? openAhead)
        {
            Schema = schema;
            _input = input;
            _computer = new OutputComputer(parent, input, source, outputActive, openAhead);
        }

        public override DataViewSchema Schema { get; }
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override bool MoveNext() => _input.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _computer.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _computer.GetGetter<TValue>(column);

        protected override void Dispose(bool disposing)
        {
            if (disposing) { _computer.Dispose(); _input.Dispose(); }
            base.Dispose(disposing);
        }
    }

    private sealed class RowMapper : IRowToRowMapper
    {
        private readonly WeightVectorTransformer _parent;

        public RowMapper(WeightVectorTransformer parent, DataViewSchema inputSchema)
        {
            _parent = parent;
            InputSchema = inputSchema;
            OutputSchema = parent.GetOutputSchema(inputSchema);
        }

        public DataViewSchema InputSchema { get; }
        public DataViewSchema OutputSchema { get; }

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        {
            var list = dependingColumns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
            if (dependingColumns.Any(c => c.Index >= InputSchema.Count)) list.Add(InputSchema[_parent.InputColumnName]);
            return list.Distinct();
        }

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            bool outputActive = activeColumns.Any(c => c.Index >= InputSchema.Count);
            return new MappedRow(_parent, OutputSchema, input, input.Schema[_parent.InputColumnName], outputActive);
        }
    }

    private sealed class MappedRow : DataViewRow
    {
        private readonly DataViewRow _input;
        private readonly OutputComputer _computer;

        public MappedRow(WeightVectorTransformer parent, DataViewSchema schema, DataViewRow input, DataViewSchema.Column source, bool outputActive)
        {
            Schema = schema;
            _input = input;
            _computer = new OutputComputer(parent, input, source, outputActive, null);
        }

        public override DataViewSchema Schema { get; }
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _computer.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _computer.GetGetter<TValue>(column);
    }
}

/// <summary>What the library's transforms do with NaN or ∞ in a weight column.</summary>
public enum NonFiniteWeights
{
    /// <summary>Throw an error that names the column, the row and the position (default).</summary>
    Error,
    /// <summary>Replace each non-finite value with 0 (imputation; the row is kept).</summary>
    ReplaceWithZero,
}
