using Microsoft.ML;

namespace WeightSpace.MLNet;

/// <summary>ML.NET entry points for zoos.</summary>
public static class ZooCatalog
{
    /// <summary>
    /// Loads a zoo directory as a lazy <see cref="IDataView"/>. Split it by model so that all checkpoints of a
    /// network land on one side: <c>ml.Data.TrainTestSplit(view, 0.2, samplingKeyColumnName: "ModelId")</c>.
    /// </summary>
    /// <example><code>
    /// var ml = new MLContext(seed: 1);
    /// IDataView zoo = ml.Data.LoadZoo("zoos/tetris-seed");
    /// var split = ml.Data.TrainTestSplit(zoo, 0.2, samplingKeyColumnName: ZooColumns.ModelId);
    /// </code></example>
    /// <exception cref="ZooFormatException">The directory is not a readable zoo.</exception>
    public static ZooDataView LoadZoo(this DataOperationsCatalog catalog, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ZooDataView(ZooDataset.Open(path));
    }
}
