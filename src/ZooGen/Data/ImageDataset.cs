namespace WeightSpace.ZooGen.Data;

/// <summary>Images as float pixels [N, C, H, W] (row-major) with integer class labels.</summary>
public sealed class ImageDataset
{
    /// <summary>Creates and validates a data set.</summary>
    public ImageDataset(string name, float[] pixels, int[] labels, int channels, int height, int width, int classes)
    {
        if (channels <= 0 || height <= 0 || width <= 0) throw new ArgumentException("Image dimensions must be positive.");
        if (pixels.Length != (long)labels.Length * channels * height * width)
            throw new ArgumentException($"{name}: {pixels.Length} pixels do not make {labels.Length} images of {channels}x{height}x{width}.");
        foreach (var l in labels)
            if ((uint)l >= (uint)classes) throw new ArgumentException($"{name}: label {l} outside 0..{classes - 1}.");
        Name = name; Pixels = pixels; Labels = labels; Channels = channels; Height = height; Width = width; Classes = classes;
    }

    /// <summary>Data set name.</summary>
    public string Name { get; }
    /// <summary>Pixels, [N, C, H, W].</summary>
    public float[] Pixels { get; }
    /// <summary>Class of each image.</summary>
    public int[] Labels { get; }
    /// <summary>Channels per image.</summary>
    public int Channels { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Number of classes.</summary>
    public int Classes { get; }
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;
    /// <summary>Values per image.</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices, string? name = null)
    {
        var px = new float[indices.Count * ImageSize];
        var lb = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Array.Copy(Pixels, (long)indices[i] * ImageSize, px, (long)i * ImageSize, ImageSize);
            lb[i] = Labels[indices[i]];
        }
        return new ImageDataset(name ?? Name, px, lb, Channels, Height, Width, Classes);
    }

    /// <summary>The first <paramref name="count"/> images.</summary>
    public ImageDataset Take(int count) => Subset(Enumerable.Range(0, Math.Min(count, Count)).ToArray());

    /// <summary>A copy whose labels are, with probability <paramref name="fraction"/> each, replaced by a uniformly drawn class (seeded).</summary>
    public ImageDataset WithLabelNoise(double fraction, int seed)
    {
        var rng = MLNet.Rng.For(seed, 0x1AB3E);
        var labels = (int[])Labels.Clone();
        for (int i = 0; i < labels.Length; i++)
            if (rng.NextDouble() < fraction) labels[i] = rng.NextInt(Classes);
        return new ImageDataset(Name, Pixels, labels, Channels, Height, Width, Classes);
    }

    /// <summary>Maps pixel values linearly: p → p·scale + shift (e.g. [0,1] → [-1,1]).</summary>
    public ImageDataset Affine(float scale, float shift) =>
        new(Name, Pixels.Select(p => p * scale + shift).ToArray(), Labels, Channels, Height, Width, Classes);
}

/// <summary>A train / test pair, with an optional validation set held out of the training images.</summary>
public sealed record DataSplit(ImageDataset Train, ImageDataset Test, ImageDataset? Validation = null);
