Console.WriteLine("zoogen");
