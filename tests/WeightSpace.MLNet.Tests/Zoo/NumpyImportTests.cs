using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace WeightSpace.MLNet.Tests.Zoo;

/// <summary>NumpyZoo.Import with the column names a Python user picks: nothing dropped, nothing NaN-filled, ids grouped.</summary>
public class NumpyImportTests
{
    /// <summary>A folder with weights.npy (rows × the Tetris MLP's parameters) and the given metrics.csv.</summary>
    internal static string Folder(TempDir tmp, string csv, int rows)
    {
        var dir = tmp.Sub("npy");
        Directory.CreateDirectory(dir);
        int p = WeightLayout.TetrisMlp100.ParameterCount;
        using (var fs = File.Create(Path.Combine(dir, NumpyZoo.WeightsFile)))
        {
            NumpyZoo.WriteNpyHeader(fs, "<f4", rows, p);
            fs.Write(MemoryMarshal.AsBytes(Enumerable.Range(0, rows * p).Select(i => (float)Math.Cos(i * 0.37)).ToArray().AsSpan()));
        }
        File.WriteAllText(Path.Combine(dir, NumpyZoo.MetricsFile), csv);
        return dir;
    }

    [Fact]
    public void APythonUsersColumnNamesAllLandAndCheckpointsOfAModelShareItsId()
    {
        using var tmp = new TempDir();
        var csv = "model_id,epoch,test_acc,train_acc,lr,weight_decay,activation,optimizer,seed,my_metric,notes\n" +
                  string.Concat(Enumerable.Range(0, 6).Select(r =>
                      $"{100 + r / 2},{r % 2 * 5},{0.5 + 0.01 * r},{0.6 + 0.01 * r},{(r / 2 == 1 ? "0.01" : "0.001")},1e-4,{(r / 2 == 0 ? "relu" : "tanh")},adam,{7 + r / 2},{r * 1.5},\"run, {r / 2}\"\n"));
        var dir = Folder(tmp, csv, 6);
        var mapping = NumpyZoo.ImportColumns(dir);
        Assert.Contains("model_id → ModelId (integer)", mapping);
        Assert.Contains("test_acc → TestAccuracy (metric)", mapping);
        Assert.Contains("lr → LearningRate (numeric)", mapping);
        Assert.Contains("my_metric → my_metric (numeric)", mapping);
        Assert.Contains("notes → notes (text)", mapping);

        var zoo = NumpyZoo.Import(dir, tmp.Sub("zoo"), WeightLayout.TetrisMlp100, "digits");
        Assert.Equal(new[] { 100, 101, 102 }, zoo.ModelIds.Order());
        var rows = zoo.Records().OrderBy(r => r.ModelId).ThenBy(r => r.Epoch).ToList();
        Assert.Equal(new[] { 0, 5, 0, 5, 0, 5 }, rows.Select(r => r.Epoch));
        Assert.Equal(0.53f, rows[3].TestAccuracy, 5);
        Assert.Equal(0.63f - 0.53f, rows[3].Metric(ZooColumns.GeneralizationGap), 5); // derived: train − test
        Assert.Equal(0.01f, rows[2].Numeric[ZooColumns.Hyper.LearningRate], 6);
        Assert.Equal(1e-4f, rows[2].Numeric[ZooColumns.Hyper.WeightDecay], 8);
        Assert.Equal("tanh", rows[2].Text[ZooColumns.Hyper.Activation]);
        Assert.Equal(8, rows[2].Seed);
        Assert.Equal(4.5f, rows[3].Numeric["my_metric"]);
        Assert.Equal("run, 1", rows[3].Text["notes"]);
        // Every column is a column of the IDataView, so a probe can target it.
        var view = new MLContext(1).Data.LoadZoo(tmp.Sub("zoo"));
        Assert.Equal(NumberDataViewType.Single, view.Schema["my_metric"].Type);
        Assert.Equal(6, view.GetColumn<float>(ZooColumns.TestAccuracy).Count(float.IsFinite));
    }

    [Fact]
    public void ModelNamesInsteadOfNumbersBecomeOneIdPerName()
    {
        using var tmp = new TempDir();
        var dir = Folder(tmp, "model,step,test_accuracy\nnet-a,1,0.5\nnet-a,2,0.6\nnet-b,1,0.4\n", 3);
        var zoo = NumpyZoo.Import(dir, tmp.Sub("zoo"), WeightLayout.TetrisMlp100, "x");
        Assert.Equal(2, zoo.ModelIds.Count);
        Assert.Equal(2, zoo.Records().Count(r => r.ModelId == zoo.Records().First().ModelId));
    }

    [Theory]
    [InlineData("epoch,test_acc\n1,0.5\n2,0.6\n", "no column names each row's model")]
    [InlineData("model_id,test_acc\n1,0.5\n2,0.6\n", "no column gives each row's epoch")]
    [InlineData("model_id,epoch,lr,learning_rate\n1,1,0.1,0.1\n2,1,0.1,0.1\n", "'lr' and 'learning_rate' both name LearningRate")]
    [InlineData("model_id,epoch,test_acc\n1,1,0.5\n2,1,high\n", "row 3, column 'test_acc': 'high' is not a number")]
    [InlineData("model_id,epoch,Weights\n1,1,0.5\n2,1,0.6\n", "column 'Weights' has the name of a zoo column")]
    [InlineData("model_id,epoch\n1,1\n2\n", "row 3 has 1 cells, the header 2")]
    [InlineData("ModelId,Epoch,TestAccuracy\n1,1.5,0.5\n2,1,0.6\n", "row 2, column 'Epoch': '1.5' is not a whole number")]
    public void AMissingOrAmbiguousOrMalformedColumnIsNamedAndNoZooIsLeft(string csv, string message)
    {
        using var tmp = new TempDir();
        var dir = Folder(tmp, csv, 2);
        var e = Assert.Throws<ZooFormatException>(() => NumpyZoo.Import(dir, tmp.Sub("zoo"), WeightLayout.TetrisMlp100, "x"));
        Assert.Contains(message, e.Message);
        Assert.Contains(NumpyZoo.MetricsFile, e.Message);
        Assert.False(Directory.Exists(tmp.Sub("zoo")));
    }

    [Fact]
    public void ALayoutCsvThatDoesNotFitTheWeightsIsRefusedRatherThanReadInTheWrongOrder()
    {
        using var tmp = new TempDir();
        var dir = Folder(tmp, "model_id,step,test_accuracy\n1,1,0.5\n2,1,0.6\n", 2);
        File.WriteAllText(Path.Combine(dir, "layout.csv"), "varname,start_idx,end_idx,shape\nsequential/conv2d/kernel:0,0,144,\"(3, 3, 1, 16)\"\n");
        var e = Assert.Throws<ZooFormatException>(() => NumpyZoo.Import(dir, tmp.Sub("zoo"), null, "x"));
        Assert.Contains("layout.csv", e.Message);
        Assert.False(Directory.Exists(tmp.Sub("zoo")));
        File.WriteAllText(Path.Combine(dir, "layout.csv"), "varname,start_idx,end_idx,shape\nsequential/dense/kernel:0,0,80,\"(16, 5)\"\nsequential/dense/bias:0,80,85,\"(5,)\"\n" +
            "sequential/dense_1/kernel:0,85,105,\"(5, 4)\"\nsequential/dense_1/gamma:0,105,100,\"(5,)\"\n");
        Assert.Contains("do not agree", Assert.Throws<ZooFormatException>(() => NumpyZoo.Import(dir, tmp.Sub("zoo"), null, "x")).Message);
    }

    [Fact]
    public void ZoogenImportPrintsWhereEachColumnGoesAndWritesTheZoo()
    {
        using var tmp = new TempDir();
        var dir = Folder(tmp, "model_id,epoch,test_acc,lr\n1,1,0.5,0.1\n1,2,0.6,0.1\n2,1,0.4,0.01\n", 3);
        using var process = WeightSpace.MLNet.Tests.ZooGen.ZooGenProcessTests.Zoogen("import", dir, "--out", tmp.Sub("zoo"), "--layout", "tetris-mlp-100");
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("test_acc → TestAccuracy (metric)", output);
        Assert.Contains("imported 3 rows of 2 models", output);
        Assert.Equal(2, ZooDataset.Open(tmp.Sub("zoo")).ModelIds.Count);
        using var bad = WeightSpace.MLNet.Tests.ZooGen.ZooGenProcessTests.Zoogen("import", dir, "--out", tmp.Sub("zoo2"), "--layout", "resnet");
        string error = bad.StandardError.ReadToEnd();
        bad.WaitForExit();
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--layout: 'resnet' is not a layout", error);
    }
}
