using System.Text.Json;
using Xunit;

namespace WeightSpace.MLNet.Tests.Import;

/// <summary>
/// Real-format checkpoints made by PyTorch (tests/fixtures/make_import_fixtures.py, committed): each network's output on a
/// fixed input was computed by PyTorch, and the imported weights, run forward here, must give it — the proof that every
/// weight landed in its place. Plus every file an import must refuse, each by name.
/// </summary>
public class ModelImportTests
{
    private static string Fixture(string name) => Path.Combine(RepoRoot.Path, "tests", "fixtures", "import", name);

    private static readonly JsonElement Outputs = JsonDocument.Parse(File.ReadAllText(Fixture("outputs.json"))).RootElement;

    private static float[] Floats(string key) => Outputs.GetProperty(key).EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    /// <summary>The imported network's outputs on the fixture's inputs against PyTorch's (float32 there, float64 here).</summary>
    private static void AssertReproducesPyTorch(WeightLayout layout, float[] weights, string key, string activation, bool image) =>
        AssertReproducesPyTorch(NetworkArchitecture.For(layout), weights, key, activation, image);

    private static void AssertReproducesPyTorch(NetworkArchitecture architecture, float[] weights, string key, string activation, bool image)
    {
        var inputs = Floats(image ? "input_image" : "input_mlp");
        var expected = Floats(key);
        int per = image ? 784 : 4, classes = expected.Length / 2;
        for (int n = 0; n < 2; n++)
        {
            var got = image ? architecture.Forward(weights, inputs.AsSpan(n * per, per), 1, 28, 28, activation)
                            : architecture.Forward(weights, inputs.AsSpan(n * per, per), per, 1, 1, activation);
            Assert.Equal(classes, got.Length);
            for (int c = 0; c < classes; c++)
                Assert.True(Math.Abs(got[c] - expected[n * classes + c]) < 1e-4, $"{key}: output {n},{c}: {got[c]} here, {expected[n * classes + c]} in PyTorch");
        }
    }

    [Theory]
    [InlineData(".pt")]
    [InlineData(".safetensors")]
    public void AnMlpStateDictLandsInPlaceAndReproducesPyTorchsOutputs(string extension)
    {
        foreach (var stem in new[] { "mlp0_e0", "mlp1_e3", "mlp2_e3" })
        {
            var (layout, weights) = ModelImport.Flatten(StateDictFile.Read(Fixture(stem + extension)), stem);
            Assert.Equal(WeightLayout.Mlp(4, 5, 3), layout);
            AssertReproducesPyTorch(layout, weights, stem, "tanh", image: false);
        }
    }

    [Theory]
    [InlineData("deep.pt")]
    [InlineData("deep.safetensors")] // keys sorted as text there: layers.10 must still come after layers.9
    public void ElevenLayersComeInModuleOrderFromBothFormats(string file)
    {
        var (layout, weights) = ModelImport.Flatten(StateDictFile.Read(Fixture(file)), file);
        Assert.Equal(11, layout.Layers.Count);
        Assert.Equal(4, layout.Layers[0].InFeatures);
        AssertReproducesPyTorch(layout, weights, "deep", "tanh", image: false);
    }

    [Fact]
    public void ACnnOfTheCnn4970ShapeIsTheBuiltInLayoutAndReproducesPyTorchsOutputs()
    {
        var (layout, weights) = ModelImport.Flatten(StateDictFile.Read(Fixture("cnn4970.pt")), "cnn4970.pt");
        Assert.Same(WeightLayout.Cnn4970, layout);
        AssertReproducesPyTorch(layout, weights, "cnn4970", "relu", image: true);
    }

    [Fact]
    public void AMiniatureSmallCnnZooInTensorFlowOrderLandsInPlaceAndReproducesPyTorchsOutputs()
    {
        using var tmp = new TempDir();
        var zoo = NumpyZoo.Import(Fixture("small-cnn-zoo"), tmp.Sub("zoo"), null, "cifar10");
        Assert.Equal(WeightLayout.Cnn4970, zoo.Layout);
        var rows = zoo.Records().ToList();
        Assert.Equal(4, rows.Count);
        Assert.Equal(2, zoo.ModelIds.Count); // the runs' modeldir, rows interleaved in the file, grouped here
        foreach (var r in rows)
        {
            int run = r.TestAccuracy < 0.35f ? 0 : 1; // run 0: 0.30 / 0.32, run 1: 0.40 / 0.42
            AssertReproducesPyTorch(zoo.Layout, r.Weights, $"smallcnn_run{run}_step{r.Epoch}", "relu", image: true);
            Assert.Equal(new[] { 0.01f, 0.001f }[run], r.Numeric[ZooColumns.Hyper.LearningRate], 6);
            Assert.Equal("glorot_uniform", r.Text[ZooColumns.Hyper.Init]);
            Assert.Equal(0.05f, r.Metric(ZooColumns.GeneralizationGap), 4); // derived: train − test
        }
        Assert.Equal(new[] { 0, 20 }, rows.Select(r => r.Epoch).Distinct().Order());
        // zoogen reads the same folder without a --layout: layout.csv says it.
        Assert.Contains("imported 4 rows of 2 models (cnn-4970, from TensorFlow order by layout.csv)", ZoogenOk("import", Fixture("small-cnn-zoo"), "--out", tmp.Sub("zoo2")));
    }

    [Theory]
    [InlineData("mlp2_e3.onnx", "mlp2_e3", "mlp-4-5-3", "tanh", false)]
    [InlineData("cnn4970.onnx", "cnn4970", "cnn-4970", "relu", true)]
    [InlineData("modelzoo_trial1_epoch2.onnx", "modelzoo_trial1_epoch2", "cnn-2464", "tanh", true)]
    public void AnOnnxExportGivesItsArchitectureFromTheGraphAndReproducesPyTorchsOutputs(string file, string key, string layout, string activation, bool image)
    {
        var onnx = OnnxImport.Read(Fixture(file));
        Assert.Equal(layout, onnx.Architecture.Layout.Name);
        Assert.Equal(activation, onnx.Activation);
        Assert.Equal(NetworkArchitecture.For(onnx.Architecture.Layout).Ops, onnx.Architecture.Ops); // the graph's ops are the built-in chain
        AssertReproducesPyTorch(onnx.Architecture.Layout, onnx.Weights, key, activation, image);
        // the same file through the checkpoint path (a labels CSV may name .onnx files)
        Assert.Equal(onnx.Weights, ModelImport.ReadCheckpoint(Fixture(file)).Weights);
    }

    [Theory]
    [InlineData("padded.onnx", "(Conv) pads its input")]
    [InlineData("mlp0_e0.pt", "not a readable ONNX model")]
    public void AnOnnxGraphTheMethodCannotExpressIsRefusedByNode(string file, string message)
    {
        using var tmp = new TempDir();
        string path = Fixture(file);
        if (!file.EndsWith(".onnx")) File.Copy(path, path = tmp.Sub("renamed.onnx")); // a state_dict named .onnx
        var e = Assert.Throws<InvalidDataException>(() => OnnxImport.Read(path));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void BatchNormsTravelWithTheirLayerFromStateDictsAndOnnxAndReproducePyTorchsOutputs()
    {
        // MLP: Linear → BatchNorm1d → Tanh → Linear, running statistics moved off their initial values.
        var (mlp, mlpWeights) = ModelImport.Flatten(StateDictFile.Read(Fixture("bn-mlp.pt")), "bn-mlp.pt");
        Assert.True(mlp.Layers[0].BatchNorm);
        Assert.Equal(4 * 5 + 5 + 4 * 5 + 5 * 3 + 3, mlp.ParameterCount);
        AssertReproducesPyTorch(mlp, mlpWeights, "bn-mlp", "tanh", image: false);
        var onnxMlp = OnnxImport.Read(Fixture("bn-mlp.onnx"));
        Assert.Equal(mlpWeights, onnxMlp.Weights);
        AssertReproducesPyTorch(onnxMlp.Architecture.Layout, onnxMlp.Weights, "bn-mlp", "tanh", image: false);

        // CNN: two stride-2 convolutions, each with BatchNorm2d, flatten, dense.
        var (cnn, cnnWeights) = ModelImport.Flatten(StateDictFile.Read(Fixture("bn-cnn.pt")), "bn-cnn.pt");
        Assert.Equal(new[] { true, true, false }, cnn.Layers.Select(l => l.BatchNorm));
        var ops = NetworkArchitecture.Cnn(1, new ConvBlock[] { new(4, 3, 2), new(6, 3, 2) }, Array.Empty<int>(), 10).Ops; // the state_dict has no strides
        var architecture = new NetworkArchitecture(cnn, ops);
        var expected = Floats("bn-cnn");
        var input = Floats("input_image");
        var got = architecture.Forward(cnnWeights, input.AsSpan(0, 784), 1, 28, 28, "relu");
        for (int c = 0; c < 10; c++) Assert.True(Math.Abs(got[c] - expected[c]) < 1e-4, $"output {c}: {got[c]} here, {expected[c]} in PyTorch");
        var onnxCnn = OnnxImport.Read(Fixture("bn-cnn.onnx"));
        Assert.Equal(ops, onnxCnn.Architecture.Ops); // the graph gives the strides
        AssertReproducesPyTorch(onnxCnn.Architecture, onnxCnn.Weights, "bn-cnn", "relu", image: true);

        // Permuting the channels moves each one's γ, β, μ, σ² with it: the network computes the same function, and a
        // neuron token carries its unit's batch-norm values.
        var permuted = Permutation.Random(cnn, seed: 4).Apply(cnnWeights);
        Assert.NotEqual(cnnWeights, permuted);
        var again = architecture.Forward(permuted, input.AsSpan(0, 784), 1, 28, 28, "relu");
        for (int c = 0; c < 10; c++) Assert.Equal(got[c], again[c], 9);
        var token = new float[cnn.Layers[0].TokenSize];
        cnn.CopyToken(cnnWeights, 0, 2, token);
        Assert.Equal(9 + 1 + 4, token.Length);
        Assert.Equal(cnnWeights[cnn.BatchNormOffset(0) + 3 * 4 + 2], token[^1]); // σ² of channel 2
        var written = new float[cnn.ParameterCount];
        for (int l = 0; l < cnn.Layers.Count; l++)
            for (int u = 0; u < cnn.Layers[l].OutFeatures; u++)
            {
                var t = new float[cnn.Layers[l].TokenSize];
                cnn.CopyToken(cnnWeights, l, u, t);
                cnn.WriteToken(written, l, u, t);
            }
        Assert.Equal(cnnWeights, written); // the tokens cover every parameter exactly once
    }

    [Fact]
    public void AMiniatureModelZooOfRayTuneTrialsLandsInPlaceWithItsResultLinesAndConfig()
    {
        using var tmp = new TempDir();
        var zoo = ModelImport.FromModelZoo(Fixture("model-zoo"), tmp.Sub("zoo"), dataset: "mnist");
        Assert.Equal(WeightLayout.Cnn2464, zoo.Layout); // module_list.0/3/6 convs and 9/11 linears: the small CNN
        var rows = zoo.Records().OrderBy(r => r.ModelId).ThenBy(r => r.Epoch).ToList();
        Assert.Equal(new[] { (0, 0), (0, 1), (0, 2), (1, 1), (1, 2) }, rows.Select(r => (r.ModelId, r.Epoch)));
        foreach (var r in rows)
        {
            AssertReproducesPyTorch(zoo.Layout, r.Weights, $"modelzoo_trial{r.ModelId}_epoch{r.Epoch}", "tanh", image: true);
            // trial 0 wrote checkpoint_0, so its result line j is epoch j; trial 1 did not, so line j is epoch j + 1
            Assert.Equal(0.1f + 0.2f * r.ModelId + 0.03f * r.Epoch, r.TestAccuracy, 5);
            Assert.Equal(0.12f + 0.2f * r.ModelId + 0.04f * r.Epoch, r.TrainAccuracy, 5);
            Assert.Equal(2.0f - 0.1f * r.Epoch, r.TestLoss, 5);
            Assert.Equal(r.ModelId + 1, r.Seed);
            Assert.Equal(new[] { 0.001f, 0.0003f }[r.ModelId], r.Numeric[ZooColumns.Hyper.LearningRate], 7);
            Assert.Equal("tanh", r.Text[ZooColumns.Hyper.Activation]);
            Assert.Equal("kaiming_uniform", r.Text[ZooColumns.Hyper.Init]);
            Assert.Equal("adam", r.Text[ZooColumns.Hyper.Optimizer]);
            Assert.Equal(1f, r.Numeric["config.model::channels_in"]);
        }
        Assert.DoesNotContain(zoo.Manifest.Columns, c => c.Name.Contains("timestamp") || c.Name.Contains("hostname") || c.Name.Contains("o_dim"));
        // zoogen recognises the folder without being told.
        Assert.Contains("imported 5 checkpoints of 2 trials (cnn-2464", ZoogenOk("import", Fixture("model-zoo"), "--out", tmp.Sub("zoo2")));
        Assert.Contains("imported 5 checkpoints", ZoogenOk("import", Fixture("model-zoo"), "--format", "model-zoo", "--out", tmp.Sub("zoo3")));
        using var wrong = WeightSpace.MLNet.Tests.ZooGen.ZooGenProcessTests.Zoogen("import", Fixture("model-zoo"), "--format", "small-cnn-zoo", "--out", tmp.Sub("zoo4"));
        string error = wrong.StandardError.ReadToEnd();
        wrong.WaitForExit();
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains("--format small-cnn-zoo, but", error);
        Assert.Contains("look like model-zoo", error);
        Assert.False(Directory.Exists(tmp.Sub("zoo4")));
    }

    [Fact]
    public void OneEntryPointRecognisesEachFolderFormat()
    {
        Assert.Equal("model-zoo", ModelImport.Recognise(Fixture("model-zoo")));
        Assert.Equal("small-cnn-zoo", ModelImport.Recognise(Fixture("small-cnn-zoo")));
        using var tmp = new TempDir();
        Assert.Null(ModelImport.Recognise(tmp.Path));
        Assert.Equal(WeightLayout.Cnn2464, ModelImport.FromFolder(Fixture("model-zoo"), tmp.Sub("a")).Layout);
        Assert.Equal(WeightLayout.Cnn4970, ModelImport.FromFolder(Fixture("small-cnn-zoo"), tmp.Sub("b")).Layout);
        Directory.CreateDirectory(tmp.Sub("empty"));
        Assert.Contains("holds no zoo", Assert.Throws<ZooFormatException>(() => ModelImport.FromFolder(tmp.Sub("empty"), tmp.Sub("c"))).Message);
    }

    [Fact]
    public void AModelZooTrialWithoutCheckpointsOrWithLinesOutOfOrderIsNamed()
    {
        using var tmp = new TempDir();
        var trial = Path.Combine(tmp.Sub("zoo-src"), "trial_0");
        Directory.CreateDirectory(trial);
        File.WriteAllText(Path.Combine(trial, "result.json"), "{\"test_acc\": 0.5, \"training_iteration\": 1}\n");
        Assert.Contains("without checkpoint_<epoch>/checkpoints", Assert.Throws<ZooFormatException>(() => ModelImport.FromModelZoo(tmp.Sub("zoo-src"), tmp.Sub("zoo"))).Message);
        Directory.CreateDirectory(Path.Combine(trial, "checkpoint_1"));
        File.Copy(Fixture("mlp0_e0.pt"), Path.Combine(trial, "checkpoint_1", "checkpoints"));
        File.WriteAllText(Path.Combine(trial, "result.json"), "{\"test_acc\": 0.5, \"training_iteration\": 7}\n");
        Assert.Contains("training_iteration 7", Assert.Throws<ZooFormatException>(() => ModelImport.FromModelZoo(tmp.Sub("zoo-src"), tmp.Sub("zoo"))).Message);
        Assert.False(Directory.Exists(tmp.Sub("zoo")));
    }

    [Theory]
    [InlineData("labels.csv")]
    [InlineData("labels-safetensors.csv")]
    public void ALabelsCsvOfCheckpointsBecomesAZooWhoseRowsArePyTorchsWeights(string labels)
    {
        using var tmp = new TempDir();
        var progress = new List<(int, int)>();
        var zoo = ModelImport.FromCheckpoints(Fixture(labels), tmp.Sub("zoo"), progress: new SyncProgress(progress), dataset: "random");
        Assert.Equal(WeightLayout.Mlp(4, 5, 3), zoo.Layout);
        Assert.Equal(new[] { 0, 1, 2 }, zoo.ModelIds.Order());
        Assert.Equal((6, 6), progress[^1]);
        var rows = zoo.Records().ToList();
        Assert.Equal(6, rows.Count);
        foreach (var r in rows)
        {
            AssertReproducesPyTorch(zoo.Layout, r.Weights, $"mlp{r.ModelId}_e{r.Epoch}", "tanh", image: false);
            Assert.Equal(0.5f + 0.1f * r.ModelId + 0.01f * r.Epoch, r.TestAccuracy, 5);
            Assert.Equal(new[] { 0.1f, 0.03f, 0.01f }[r.ModelId], r.Numeric[ZooColumns.Hyper.LearningRate], 6);
            Assert.Equal("tanh", r.Text[ZooColumns.Hyper.Activation]);
            Assert.True(float.IsNaN(r.TrainAccuracy), "a metric the CSV lacks is missing (NaN), not 0");
            Assert.True(float.IsNaN(r.Metric(ZooColumns.GeneralizationGap)));
        }
        zoo.Verify();
    }

    [Fact]
    public void ZoogenImportsTheCheckpointsACsvNamesAndInfoShowsWhatIsMissing()
    {
        using var tmp = new TempDir();
        Assert.Contains("imported 6 checkpoints of 3 models (mlp-4-5-3", ZoogenOk("import", "--labels", Fixture("labels.csv"), "--out", tmp.Sub("zoo")));
        string text = ZoogenOk("info", tmp.Sub("zoo"));
        Assert.Contains("TrainAccuracy      missing in all 6 rows", text);
        Assert.Contains("[0.5, 0.6) ", text);
        Assert.DoesNotContain("[0.0, 0.1) #", text); // missing values are not counted in the lowest bin
    }

    /// <summary>Runs zoogen, expects exit 0 and returns its standard output.</summary>
    private static string ZoogenOk(params string[] args)
    {
        using var process = WeightSpace.MLNet.Tests.ZooGen.ZooGenProcessTests.Zoogen(args);
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"zoogen {string.Join(' ', args)} exited {process.ExitCode}: {error}");
        return output;
    }

    private sealed class SyncProgress(List<(int, int)> into) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => into.Add(value);
    }

    [Theory]
    [InlineData("layernorm.pt", "is a normalisation layer such as LayerNorm")]
    [InlineData("legacy.pt", "legacy format")]
    [InlineData("whole-model.pt", "pickled torch.nn.modules.container.Sequential object, not a state_dict")]
    [InlineData("nan.pt", "'2.weight' holds NaN at position 7")]
    [InlineData("labels.csv", "neither a PyTorch state_dict (zip) nor a safetensors file")]
    public void AFileTheMethodCannotTakeIsRefusedByName(string file, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelImport.Flatten(StateDictFile.Read(Fixture(file)), Fixture(file)));
        Assert.Contains(message, e.Message);
        Assert.Contains(file, e.Message);
    }

    [Theory]
    [InlineData("mlp1_e3.pt")]
    [InlineData("mlp1_e3.safetensors")]
    public void ATruncatedOrBitFlippedFileIsNamedAsDamagedNeverAnotherException(string file)
    {
        var bytes = File.ReadAllBytes(Fixture(file));
        using var tmp = new TempDir();
        var path = tmp.Sub(file);
        int named = 0, loaded = 0;
        for (int cut = 0; cut < bytes.Length; cut += Math.Max(1, bytes.Length / 97))
        {
            File.WriteAllBytes(path, bytes[..cut]);
            Assert.StartsWith(path, Assert.Throws<InvalidDataException>(() => StateDictFile.Read(path)).Message);
            named++;
        }
        for (int i = 0; i < bytes.Length; i += Math.Max(1, bytes.Length / 301))
        {
            var damaged = (byte[])bytes.Clone();
            damaged[i] ^= 0x5A;
            File.WriteAllBytes(path, damaged);
            try { StateDictFile.Read(path); loaded++; } // a flip inside a weight's bytes changes a number: no format can tell
            catch (InvalidDataException e) { Assert.StartsWith(path, e.Message); named++; }
        }
        Assert.True(named > 97, $"{named} damaged files named, {loaded} loaded");
    }

    [Fact]
    public void ACheckpointOfAnotherArchitectureOrAMissingFileStopsTheImportAndLeavesNoZoo()
    {
        using var tmp = new TempDir();
        foreach (var f in new[] { "mlp0_e0.pt", "mlp1_e0.pt", "other-shape.pt", "nan.pt" }) File.Copy(Fixture(f), Path.Combine(tmp.Path, f));
        File.WriteAllText(tmp.Sub("other.csv"), "file,model,epoch,test_acc\nmlp0_e0.pt,0,0,0.5\nmlp1_e0.pt,1,0,0.6\nother-shape.pt,2,0,0.7\n");
        var e = Assert.Throws<InvalidDataException>(() => ModelImport.FromCheckpoints(tmp.Sub("other.csv"), tmp.Sub("zoo")));
        Assert.Contains("other-shape.pt: not the architecture 'mlp-4-5-3': '0' is linear 4→6, but layer 1 of 'mlp-4-5-3' is linear 4→5", e.Message);
        Assert.False(Directory.Exists(tmp.Sub("zoo")));

        File.WriteAllText(tmp.Sub("nan.csv"), "file,model,epoch\nmlp0_e0.pt,0,0\nnan.pt,1,0\n");
        Assert.Contains("nan.pt: '2.weight' holds NaN", Assert.Throws<InvalidDataException>(() => ModelImport.FromCheckpoints(tmp.Sub("nan.csv"), tmp.Sub("zoo"))).Message);
        Assert.False(Directory.Exists(tmp.Sub("zoo")));

        File.WriteAllText(tmp.Sub("missing.csv"), "file,model,epoch\nmlp0_e0.pt,0,0\ngone.pt,1,0\n");
        Assert.Contains("row 3: the file 'gone.pt' does not exist", Assert.Throws<ZooFormatException>(() => ModelImport.FromCheckpoints(tmp.Sub("missing.csv"), tmp.Sub("zoo"))).Message);
        File.WriteAllText(tmp.Sub("nofile.csv"), "model,epoch\n0,0\n");
        Assert.Contains("no column names each row's checkpoint file", Assert.Throws<ZooFormatException>(() => ModelImport.FromCheckpoints(tmp.Sub("nofile.csv"), tmp.Sub("zoo"))).Message);
        File.WriteAllText(tmp.Sub("twice.csv"), "file,model,epoch\nmlp0_e0.pt,0,0\nmlp1_e0.pt,0,0\n");
        Assert.Contains("rows 2 and 3 are both model 0, epoch 0", Assert.Throws<ZooFormatException>(() => ModelImport.FromCheckpoints(tmp.Sub("twice.csv"), tmp.Sub("zoo"))).Message);
        Assert.False(Directory.Exists(tmp.Sub("zoo")));
    }

    [Fact]
    public void AGivenLayoutIsCheckedLayerByLayer()
    {
        var tensors = StateDictFile.Read(Fixture("mlp0_e0.pt"));
        Assert.Equal(WeightLayout.Mlp(4, 5, 3), ModelImport.Flatten(tensors, "x", WeightLayout.Parse("mlp-4-5-3")).Layout);
        var e = Assert.Throws<InvalidDataException>(() => ModelImport.Flatten(tensors, "x", WeightLayout.TetrisMlp100));
        Assert.Contains("not the architecture 'tetris-mlp-100'", e.Message);
        Assert.Throws<ArgumentException>(() => WeightLayout.Parse("mlp-4"));
        Assert.Equal("mlp-16-5-4-nobias", WeightLayout.Parse("mlp-16-5-4-nobias").Name);
    }
}
