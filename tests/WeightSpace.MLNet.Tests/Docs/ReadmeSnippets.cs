// The README's C# snippets, verbatim between the markers: ReadmeSnippetTests compares them with README.md line by line
// and runs them. The namespace is deliberately outside WeightSpace.MLNet, so the usings below are all a user needs.
// README:BEGIN
using Microsoft.ML;
using WeightSpace.MLNet;
// README:END

using Xunit;

namespace ReadmeSnippets;

internal static class Snippets
{
    /// <summary>The "Using a zoo from ML.NET" snippet (after its usings); returns the probe's test R².</summary>
    public static double EmbeddingProbe()
    {
        // README:BEGIN
        var ml = new MLContext(seed: 1);
        IDataView zoo = ml.Data.LoadZoo("zoos/tetris-seed");
        var split = ml.Data.TrainTestSplit(zoo, testFraction: 0.3, samplingKeyColumnName: ZooColumns.ModelId);
        var pipeline = ml.Transforms.WeightEmbedding("Embedding")                          // the hyper-representation (trains in Fit)
            .Append(ml.Regression.Trainers.WeightSpaceRidge(ZooColumns.TestAccuracy, "Embedding"));
        var model = pipeline.Fit(split.TrainSet);
        var metrics = ml.Regression.Evaluate(model.Transform(split.TestSet), ZooColumns.TestAccuracy);
        Console.WriteLine($"test accuracy from the weights alone: R² {metrics.RSquared:F3}");
        ml.Model.SaveWeightSpace(model, zoo.Schema, "accuracy-probe.wsmodel");     // embedding + probe, reloadable
        // README:END
        return metrics.RSquared;
    }

    /// <summary>The supervised predictor's snippet; returns its test R².</summary>
    public static double Supervised(MLContext ml, (IDataView TrainSet, IDataView TestSet) split)
    {
        // README:BEGIN
        var supervised = ml.Regression.Trainers.WeightSpaceTransformer(ZooColumns.TestAccuracy)    // encoder + head, trained on the label
            .Fit(split.TrainSet);
        var r2 = ml.Regression.Evaluate(supervised.Transform(split.TestSet), ZooColumns.TestAccuracy).RSquared;
        // README:END
        supervised.Dispose();
        return r2;
    }

    /// <summary>The "Your own models" snippet: checkpoints named by runs/labels.csv into zoos/mine, loaded as an IDataView.</summary>
    public static IDataView OwnModels()
    {
        // README:BEGIN
        ZooDataset mine = ModelImport.FromCheckpoints("runs/labels.csv", "zoos/mine");   // the same from C#
        IDataView view = new MLContext(seed: 1).Data.LoadZoo("zoos/mine");              // then as any zoo
        // README:END
        Assert.Equal(mine.RowCount, view.GetRowCount() ?? view.Preview().RowView.Length);
        return view;
    }

    /// <summary>The "whole comparison is one call" snippet; a test cannot afford the CPU default, so it swaps the options in between.</summary>
    public static string Comparison(MLContext ml, IDataView zoo, WeightEmbeddingOptions testOptions)
    {
        // README:BEGIN
        var layout = WeightLayout.TetrisMlp100;
        var options = WeightEmbeddingOptions.CpuDefault;                                 // about 9 minutes for a paper-scale zoo here
        // README:END
        Assert.Equal(layout.Name, WeightLayoutAnnotation.Get(zoo.Schema[ZooColumns.Weights])?.Name);
        options = testOptions;
        // README:BEGIN
        var results = new ProbeComparison(ml).Run(zoo,
            new[] { Featurizer.W(layout), Featurizer.Statistics(layout), Featurizer.Embedding("E_cD", layout, options) },
            new[] { "Epoch", "TestAccuracy", "GeneralizationGap" });
        Console.WriteLine(ProbeComparison.ToMarkdown(results));
        // README:END
        return ProbeComparison.ToMarkdown(results);
    }
}
