using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Layout;

namespace WeightSpace.MLNet.MLNet;

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

    internal abstract VectorColumnMapper CreateMapper();

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema, InputColumnName, Layout);
        var b = new DataViewSchema.Builder();
        b.AddColumns(inputSchema);
        b.AddColumn(OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, OutputSize));
        return b.ToSchema();
    }

    /// <summary>Throws an error naming the column, the expected type and size, and what was found.</summary>
    internal static DataViewSchema.Column CheckInput(DataViewSchema schema, string column, WeightLayout layout)
    {
        var col = schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(column), $"Input column '{column}' not found; the data has: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (col.Type is not VectorDataViewType v || v.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' must be Vector<Single, {layout.ParameterCount}>, but is {col.Type}.");
        if (v.Size != layout.ParameterCount)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' has vectors of size {(v.Size == 0 ? "variable" : v.Size.ToString())}, but layout '{layout.Name}' needs {layout.ParameterCount}.");
        return col;
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
    /// Not supported: ML.NET's model format is closed to third-party transformers. Recreate the transformer
    /// from its parameters (it is cheap) and save the stock part of the pipeline with <c>mlContext.Model.Save</c>.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException($"{GetType().Name} cannot be written into an ML.NET model zip (ML.NET keeps that format internal). " +
            "Recreate it with the same parameters and save the stock part of the pipeline with mlContext.Model.Save.");

    private sealed class MappedDataView : IDataView
    {
        private readonly WeightVectorTransformer _parent;
        private readonly IDataView _input;
        private readonly DataViewSchema.Column _source;

        public MappedDataView(WeightVectorTransformer parent, IDataView input)
        {
            _parent = parent;
            _input = input;
            Schema = parent.GetOutputSchema(input.Schema);
            _source = input.Schema[parent.InputColumnName];
        }

        public bool CanShuffle => _input.CanShuffle;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _input.GetRowCount();

        private IEnumerable<DataViewSchema.Column> InputColumns(IEnumerable<DataViewSchema.Column> needed, out bool outputNeeded)
        {
            int added = _input.Schema.Count;
            var list = new List<DataViewSchema.Column>();
            outputNeeded = false;
            foreach (var c in needed)
            {
                if (c.Index == added) outputNeeded = true;
                else list.Add(_input.Schema[c.Index]);
            }
            if (outputNeeded && !list.Any(c => c.Index == _source.Index)) list.Add(_source);
            return list;
        }

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var inputCols = InputColumns(columnsNeeded, out bool outputNeeded);
            return new MappedCursor(_parent, Schema, _input.GetRowCursor(inputCols, rand), _source, outputNeeded);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            var inputCols = InputColumns(columnsNeeded, out bool outputNeeded);
            return _input.GetRowCursorSet(inputCols, n, rand)
                .Select(c => (DataViewRowCursor)new MappedCursor(_parent, Schema, c, _source, outputNeeded)).ToArray();
        }
    }

    /// <summary>Shared logic of the cursor and the prediction-engine row: input getters forwarded, output computed once per position.</summary>
    private sealed class OutputComputer
    {
        private readonly DataViewRow _row;
        private readonly bool _active;
        private readonly VectorColumnMapper _mapper;
        private readonly ValueGetter<VBuffer<float>>? _inputGetter;
        private VBuffer<float> _inputBuffer;
        private readonly float[] _dense;
        private readonly float[] _output;
        private long _cachedPosition = -1;

        public OutputComputer(WeightVectorTransformer parent, DataViewRow row, DataViewSchema.Column source, bool active)
        {
            _row = row;
            _active = active;
            _mapper = parent.CreateMapper();
            _dense = new float[parent.Layout.ParameterCount];
            _output = new float[parent.OutputSize];
            if (active) _inputGetter = row.GetGetter<VBuffer<float>>(source);
        }

        public void Get(ref VBuffer<float> dst)
        {
            if (_inputGetter is null) throw new InvalidOperationException("The output column was not requested.");
            long pos = _row.Position;
            if (pos != _cachedPosition)
            {
                _inputGetter(ref _inputBuffer);
                if (_inputBuffer.Length != _dense.Length)
                    throw new InvalidOperationException($"A row has a weight vector of length {_inputBuffer.Length}, the layout needs {_dense.Length}.");
                _inputBuffer.CopyTo(_dense);
                _mapper.Map(_dense, _output, pos);
                _cachedPosition = pos;
            }
            var editor = VBufferEditor.Create(ref dst, _output.Length);
            _output.CopyTo(editor.Values);
            dst = editor.Commit();
        }

        /// <summary>The added column is the last one; every other column is the input row's.</summary>
        public bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == _row.Schema.Count ? _active : _row.IsColumnActive(_row.Schema[column.Index]);

        public ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != _row.Schema.Count) return _row.GetGetter<TValue>(_row.Schema[column.Index]);
            ValueGetter<VBuffer<float>> g = Get;
            return g as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' is a float vector, not {typeof(TValue).Name}.");
        }
    }


    private sealed class MappedCursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor _input;
        private readonly OutputComputer _computer;

        public MappedCursor(WeightVectorTransformer parent, DataViewSchema schema, DataViewRowCursor input, DataViewSchema.Column source, bool outputActive)
        {
            Schema = schema;
            _input = input;
            _computer = new OutputComputer(parent, input, source, outputActive);
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
            if (disposing) _input.Dispose();
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
            if (dependingColumns.Any(c => c.Index == InputSchema.Count)) list.Add(InputSchema[_parent.InputColumnName]);
            return list.Distinct();
        }

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            bool outputActive = activeColumns.Any(c => c.Index == InputSchema.Count);
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
            _computer = new OutputComputer(parent, input, source, outputActive);
        }

        public override DataViewSchema Schema { get; }
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _computer.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _computer.GetGetter<TValue>(column);
    }
}
