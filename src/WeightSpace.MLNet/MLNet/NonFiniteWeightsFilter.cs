using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet.MLNet;

/// <summary>
/// <c>mlContext.Data.FilterNonFiniteWeights(view)</c>: a lazy view without the rows whose weight vector holds NaN or ∞ (the
/// "skip" choice of the library's non-finite policy; the transforms themselves throw by default or impute zeros).
/// </summary>
public static class NonFiniteWeightsFilter
{
    /// <summary>Drops every row whose <paramref name="column"/> (a float vector) holds a NaN or ∞; other rows pass unchanged.</summary>
    /// <example><code>var clean = ml.Data.FilterNonFiniteWeights(ml.Data.LoadZoo("zoo"));</code></example>
    public static IDataView FilterNonFiniteWeights(this DataOperationsCatalog catalog, IDataView input, string column = Zoo.ZooColumns.Weights)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(input);
        var col = input.Schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' not found; the data has: {string.Join(", ", input.Schema.Select(c => c.Name))}.");
        if (col.Type is not VectorDataViewType { ItemType: NumberDataViewType t } || t != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column}' must be a vector of Single, but is {col.Type}.");
        return new View(input, col);
    }

    private sealed class View(IDataView input, DataViewSchema.Column column) : IDataView
    {
        public bool CanShuffle => input.CanShuffle;
        public DataViewSchema Schema => input.Schema;
        public long? GetRowCount() => null;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(input.GetRowCursor(columnsNeeded.Append(column).Distinct(), rand), column);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            input.GetRowCursorSet(columnsNeeded.Append(column).Distinct(), n, rand).Select(c => (DataViewRowCursor)new Cursor(c, column)).ToArray();
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor _input;
        private readonly ValueGetter<VBuffer<float>> _weights;
        private VBuffer<float> _buffer;
        private long _position = -1;

        public Cursor(DataViewRowCursor input, DataViewSchema.Column column)
        {
            _input = input;
            _weights = input.GetGetter<VBuffer<float>>(column);
        }

        public override DataViewSchema Schema => _input.Schema;
        public override long Position => _position;
        public override long Batch => _input.Batch;
        public override bool IsColumnActive(DataViewSchema.Column column) => _input.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _input.GetGetter<TValue>(column);
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool MoveNext()
        {
            while (_input.MoveNext())
            {
                _weights(ref _buffer);
                bool finite = true;
                foreach (var v in _buffer.GetValues()) if (!float.IsFinite(v)) { finite = false; break; }
                if (finite) { _position++; return true; }
            }
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _input.Dispose();
            base.Dispose(disposing);
        }
    }
}
