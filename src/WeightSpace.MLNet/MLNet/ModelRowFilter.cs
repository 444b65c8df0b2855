using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>The rows of some models (the parts of a split by model), lazily.</summary>
internal static class ModelRowFilter
{
    public static IDataView Create(IDataView input, IEnumerable<int> models, string modelColumn = ZooColumns.ModelId)
    {
        var column = input.Schema.GetColumnOrNull(modelColumn) is { } c && c.Type == NumberDataViewType.Int32 ? c
            : throw new ArgumentOutOfRangeException(nameof(modelColumn), $"Splitting by model needs an Int32 column '{modelColumn}'; the data has: {string.Join(", ", input.Schema.Select(x => x.Name))}.");
        var keep = models.ToHashSet();
        return new RowFilterView<int>(input, column, (ref int id) => keep.Contains(id));
    }
}
