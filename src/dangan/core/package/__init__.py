"""Case package (归档信息包): model, metadata XML, reader, writer, safe unzip, batch manifest, AIP."""
