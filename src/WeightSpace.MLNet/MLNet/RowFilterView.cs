using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>A lazy view of the rows whose value in one column passes a test (rows of some models; rows with finite weights).</summary>
internal sealed class RowFilterView<T> : IDataView
{
    /// <summary>Decides on a row by its value (passed by reference so vectors are not copied).</summary>
    public delegate bool Keep(ref T value);

    private readonly IDataView _input;
    private readonly DataViewSchema.Column _column;
    private readonly Keep _keep;
    private readonly bool _parallel;

    /// <summary>Rows of <paramref name="input"/> whose <paramref name="column"/> passes <paramref name="keep"/>; with <paramref name="parallel"/> cursor sets may be split (the test must then be thread-safe).</summary>
    public RowFilterView(IDataView input, DataViewSchema.Column column, Keep keep, bool parallel = false)
    {
        _input = input;
        _column = column;
        _keep = keep;
        _parallel = parallel;
    }

    public bool CanShuffle => _parallel && _input.CanShuffle;
    public DataViewSchema Schema => _input.Schema;
    public long? GetRowCount() => null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(_input.GetRowCursor(columnsNeeded.Append(_column).Distinct(), _parallel ? rand : null), _column, _keep);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => _parallel
        ? _input.GetRowCursorSet(columnsNeeded.Append(_column).Distinct(), n, rand).Select(c => (DataViewRowCursor)new Cursor(c, _column, _keep)).ToArray()
        : new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor(DataViewRowCursor input, DataViewSchema.Column column, Keep keep) : DataViewRowCursor
    {
        private readonly ValueGetter<T> _value = input.GetGetter<T>(column);
        private T _current = default!;
        private long _position = -1;

        public override DataViewSchema Schema => input.Schema;
        public override long Position => _position;
        public override long Batch => input.Batch;
        public override bool IsColumnActive(DataViewSchema.Column c) => input.IsColumnActive(c);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column c) => input.GetGetter<TValue>(c);
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool MoveNext()
        {
            while (input.MoveNext())
            {
                _value(ref _current);
                if (keep(ref _current)) { _position++; return true; }
            }
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) input.Dispose();
            base.Dispose(disposing);
        }
    }
}
