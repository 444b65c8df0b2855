using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>
/// A lazy <see cref="IDataView"/> over a zoo directory: shards are streamed chunk by chunk (a few MB
/// in memory whatever the zoo's size). Columns: <c>Weights</c> (Vector&lt;Single, P&gt;, annotated with its layout: <see cref="WeightLayoutAnnotation"/>), <c>ModelId</c>
/// (Int32), <c>Epoch</c> (Single), <c>Seed</c> (Int32), the metrics (Single), then the zoo's hyperparameter
/// columns (Single or Text). Create it with <c>mlContext.Data.LoadZoo(path)</c>.
/// </summary>
public sealed class ZooDataView : IDataView
{
    private readonly ZooDataset _zoo;

    internal ZooDataView(ZooDataset zoo)
    {
        _zoo = zoo;
        var b = new DataViewSchema.Builder();
        b.AddColumn(ZooColumns.Weights, new VectorDataViewType(NumberDataViewType.Single, zoo.Layout.ParameterCount), WeightLayoutAnnotation.Create(zoo.Layout));
        b.AddColumn(ZooColumns.ModelId, NumberDataViewType.Int32);
        b.AddColumn(ZooColumns.Epoch, NumberDataViewType.Single);
        b.AddColumn(ZooColumns.Seed, NumberDataViewType.Int32);
        foreach (var m in ZooColumns.Metrics) b.AddColumn(m, NumberDataViewType.Single);
        foreach (var c in zoo.Manifest.Columns)
            b.AddColumn(c.Name, c.Type == ZooColumnType.Single ? NumberDataViewType.Single : TextDataViewType.Instance);
        Schema = b.ToSchema();
    }

    /// <summary>The zoo behind this view.</summary>
    public ZooDataset Zoo => _zoo;

    /// <inheritdoc />
    public bool CanShuffle => false;

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public long? GetRowCount() => _zoo.RowCount;

    /// <inheritdoc />
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded);

    /// <inheritdoc />
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        // Column indices in the schema.
        private const int WeightsCol = 0, ModelIdCol = 1, EpochCol = 2, SeedCol = 3, FirstSingle = 4;
        private readonly ZooDataView _parent;
        private readonly bool[] _active;
        private readonly bool _decodeText;
        private readonly int _p, _s, _t;
        private readonly int[] _schemaToStorage; // singles: index into the row's singles; text: index into the row's texts
        private ShardReader? _reader;
        private int _shard = -1, _row;
        private long _position = -1;
        private bool _done;

        public Cursor(ZooDataView parent, IEnumerable<DataViewSchema.Column> needed)
        {
            _parent = parent;
            _active = new bool[parent.Schema.Count];
            foreach (var c in needed) _active[c.Index] = true;
            _p = parent._zoo.Layout.ParameterCount;
            _s = parent._zoo.SingleColumnCount;
            _t = parent._zoo.TextColumnCount;
            _schemaToStorage = new int[parent.Schema.Count];
            int si = 0, ti = 0;
            for (int i = FirstSingle; i < parent.Schema.Count; i++)
            {
                bool text = parent.Schema[i].Type is TextDataViewType;
                _schemaToStorage[i] = text ? ti++ : si++;
                if (text && _active[i]) _decodeText = true;
            }
        }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override bool MoveNext()
        {
            if (_done) return false;
            _row++;
            while (_reader is null || _row >= _reader.Rows)
            {
                if (_reader is not null && _reader.ReadChunk(_decodeText)) { _row = 0; continue; }
                _reader?.Dispose();
                _reader = null;
                if (++_shard >= _parent._zoo.Manifest.Shards.Count) { _done = true; return false; }
                _reader = _parent._zoo.OpenShard(_shard);
                _row = int.MaxValue;
            }
            _position++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            int col = column.Index;
            Delegate getter;
            if (col == WeightsCol)
            {
                ValueGetter<VBuffer<float>> g = (ref VBuffer<float> dst) =>
                {
                    EnsureRow();
                    var editor = VBufferEditor.Create(ref dst, _p);
                    _reader!.Weights.Slice(_row * _p, _p).CopyTo(editor.Values);
                    dst = editor.Commit();
                };
                getter = g;
            }
            else if (col == ModelIdCol || col == SeedCol)
            {
                int k = col == ModelIdCol ? 0 : 2;
                ValueGetter<int> g = (ref int dst) => { EnsureRow(); dst = _reader!.Ints[_row * ShardFormat.IntColumns + k]; };
                getter = g;
            }
            else if (col == EpochCol)
            {
                ValueGetter<float> g = (ref float dst) => { EnsureRow(); dst = _reader!.Ints[_row * ShardFormat.IntColumns + 1]; };
                getter = g;
            }
            else if (Schema[col].Type is TextDataViewType)
            {
                int k = _schemaToStorage[col];
                ValueGetter<ReadOnlyMemory<char>> g = (ref ReadOnlyMemory<char> dst) => { EnsureRow(); dst = _reader!.Texts[_row * _t + k].AsMemory(); };
                getter = g;
            }
            else
            {
                int k = _schemaToStorage[col];
                ValueGetter<float> g = (ref float dst) => { EnsureRow(); dst = _reader!.Singles[_row * _s + k]; };
                getter = g;
            }
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is of type {column.Type}, not {typeof(TValue).Name}.");
        }

        private void EnsureRow()
        {
            if (_position < 0 || _done) throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId id) => { EnsureRow(); id = new DataViewRowId((ulong)_position, 0); };

        protected override void Dispose(bool disposing)
        {
            if (disposing) { _reader?.Dispose(); _reader = null; _done = true; }
            base.Dispose(disposing);
        }
    }
}
