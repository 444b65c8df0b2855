using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Zoo;

namespace WeightSpace.MLNet.MLNet;

/// <summary>A lazy view of the rows whose model id is in a set (the parts of a split by model).</summary>
internal sealed class ModelRowFilter : IDataView
{
    private readonly IDataView _input;
    private readonly DataViewSchema.Column _model;
    private readonly HashSet<int> _models;

    public ModelRowFilter(IDataView input, IEnumerable<int> models, string modelColumn = ZooColumns.ModelId)
    {
        _input = input;
        _model = input.Schema.GetColumnOrNull(modelColumn) is { } c && c.Type == NumberDataViewType.Int32 ? c
            : throw new ArgumentOutOfRangeException(nameof(modelColumn), $"Splitting by model needs an Int32 column '{modelColumn}'; the data has: {string.Join(", ", input.Schema.Select(x => x.Name))}.");
        _models = models.ToHashSet();
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema => _input.Schema;
    public long? GetRowCount() => null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(_input.GetRowCursor(columnsNeeded.Append(_model).Distinct()), _model, _models);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor(DataViewRowCursor input, DataViewSchema.Column model, HashSet<int> models) : DataViewRowCursor
    {
        private readonly ValueGetter<int> _id = input.GetGetter<int>(model);
        private long _position = -1;

        public override DataViewSchema Schema => input.Schema;
        public override long Position => _position;
        public override long Batch => input.Batch;
        public override bool IsColumnActive(DataViewSchema.Column column) => input.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => input.GetGetter<TValue>(column);
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool MoveNext()
        {
            int id = 0;
            while (input.MoveNext())
            {
                _id(ref id);
                if (models.Contains(id)) { _position++; return true; }
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
